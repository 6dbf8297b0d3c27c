#!/bin/sh
# /init of the L2 guest (a stock Debian kernel booted by rxl-kvm inside the lab VM). Loads the
# virtio modules, then proves each device with one marker line (keep the console quiet: every
# byte is a nested exit): the disk's checksum, a ping to the bridge in L1, then powers off or
# reboots as the command line's rxl.end= says.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec < /dev/console > /dev/console 2>&1
# Markers also go to the kernel log at error level, which the console prints even with
# "quiet" and without the UART interrupt (printk polls the UART).
mark() { echo "$*"; echo "<3>$*" > /dev/kmsg; }
for m in virtio_ring virtio virtio_mmio virtio_blk failover net_failover virtio_net; do
  insmod /lib/modules/$m.ko 2>/dev/null || mark "L2-INSMOD-FAILED $m"
done
mark "L2-UP kernel=$(uname -r)"
# Which clock Linux keeps time with (kvm-clock: no PIT ticks counted, see vm.rs) and whether
# it set up a PIT at all (an "i8254"/"timer" line in /proc/interrupts).
pit=none; grep -qE "IO-APIC .*(timer|i8254)|XT-PIC .*timer" /proc/interrupts && pit=yes
mark "L2-CLOCK $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource) pit-irq=$pit"
i=0; while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
mark "L2-BLK-MD5=$(md5sum < /dev/vda | cut -d' ' -f1)"
if ip link set eth0 up 2>/dev/null && ip addr add 10.99.0.2/24 dev eth0; then
  ping -c 2 -W 3 10.99.0.1 >/dev/null 2>&1 && mark "L2-PING-OK" || mark "L2-PING-FAILED"
else
  mark "L2-NO-ETH0"
fi
case " $(cat /proc/cmdline) " in *" rxl.debug "*)
  echo "<3>L2-DEBUG consoles: $(cat /proc/consoles) stdout: $(ls -l /proc/self/fd/1)" > /dev/kmsg
  (echo "L2-DEBUG-DIRECT-TTY" > /dev/ttyS0) &
  sleep 1
  while read -r l; do echo "<3>L2-DEBUG $l" > /dev/kmsg; done < /proc/interrupts
  while read -r l; do echo "<3>L2-DEBUG $l" > /dev/kmsg; done < /proc/tty/driver/serial;;
esac
case " $(cat /proc/cmdline) " in
  *" rxl.end=button "*)
    # Wait for the ACPI power button (GED -> PNP0C0C -> KEY_POWER on its input device), as
    # logind or acpid would, then take the shutdown path.
    insmod /lib/modules/evdev.ko; insmod /lib/modules/button.ko
    ev=; for d in /sys/class/input/event*; do
      [ "$(cat "$d/device/name" 2>/dev/null)" = "Power Button" ] && ev=/dev/input/${d##*/}
    done
    [ -n "$ev" ] || mark "L2-NO-POWER-BUTTON"
    mark "L2-WAITING-BUTTON"
    dd if="$ev" of=/dev/null bs=24 count=1 2>/dev/null
    mark "L2-POWER-BUTTON"; poweroff -f;;
  *" rxl.end=reboot "*) mark "L2-REBOOTING"; reboot -f;;
  *) mark "L2-POWEROFF"; poweroff -f;;
esac
sleep 5
mark "L2-STILL-RUNNING"
