#!/bin/busybox sh
# /init of the GRUB lab's dom0 initramfs (busybox). Prints the memory Xen gave dom0, as the
# balloon driver and the kernel see it, then lets rxl itself compare it with the configuration,
# and reboots (Xen then resets the machine and QEMU's -no-reboot ends the run).
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp /proc/xen
insmod /lib/modules/xen-privcmd.ko && insmod /lib/modules/xenfs.ko && mount -t xenfs xenfs /proc/xen
out=/dev/hvc0
[ -e $out ] || out=/dev/console
x=/sys/devices/system/xen_memory/xen_memory0
{
  echo "RXL-DOM0-MEM current_kb=$(cat $x/info/current_kb 2>/dev/null) target_kb=$(cat $x/target_kb 2>/dev/null) memtotal_kb=$(awk '/MemTotal/{print $2}' /proc/meminfo) hypervisor=$(cat /sys/hypervisor/type 2>/dev/null)"
  echo "RXL-STATUS-BEGIN"
  /bin/rxl grub status 2>&1
  echo "RXL-STATUS-END"
  # The host's RAM must come from Xen (physinfo), not dom0's MemTotal (one line each).
  for size in 2G 768M; do
    msg=$(/bin/rxl grub --dry-run set-dom0-mem $size 2>&1); rc=$?
    echo "RXL-HOSTMEM-$size rc=$rc $(echo "$msg" | tr '\n' ' ')"
  done
} >$out 2>&1
sync
reboot -f
