#!/bin/sh
# /init of the lab VM (L1: Debian's kernel under QEMU TCG with emulated AMD SVM+NPT). Loads
# kvm/kvm_amd and the bridge/tun modules, puts a bridge br0 at 10.99.0.1, then runs rxl-kvm on
# the real (nested) /dev/kvm: a stock Debian kernel + initramfs described by an xl.cfg, with a
# virtio-blk disk and a virtio-net NIC on br0, once powering off and once rebooting. Markers go to the console.
export PATH=/bin:/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mkdir -p /run && mount -t tmpfs tmpfs /run
say() { echo "KVMLAB $*"; }
for m in irqbypass ccp kvm kvm-amd llc stp bridge tun; do
  insmod /lib/modules/l1/$m.ko || say "INSMOD-FAILED $m"
done
[ -c /dev/kvm ] && say "KVM-READY" || { say "NO-KVM"; poweroff -f; }
brctl addbr br0 && ip addr add 10.99.0.1/24 dev br0 && ip link set br0 up && say "BRIDGE-UP"
rc=0
run() { # $1 = scenario name, $2 = expected exit reason, rest = extra kernel args;
         # $VMM_ARGS: extra rxl-kvm options
  name=$1 want=$2; shift 2
  # The guest is described by an xl.cfg, as `rxl create` would get it.
  cat > /tmp/$name.cfg <<CFG
name = "lab-$name"
type = "pvh"
memory = 256
vcpus = 1
kernel = "/lab/vmlinuz"
ramdisk = "/lab/l2.cpio.gz"
extra = "console=ttyS0 panic=-1 $(cat /lab/append) $*"
disk = [ "/lab/disk.img,raw,xvda,ro" ]
vif = [ "bridge=br0" ]
on_poweroff = "destroy"
on_reboot = "destroy"
CFG
  say "RUN-START $name"
  timeout -s KILL 240 /lab/rxl-kvm --config /tmp/$name.cfg --stats ${VMM_ARGS:-} > /tmp/out 2> /tmp/err
  r=$?
  cat /tmp/out /tmp/err
  grep -q "^L2-UP kernel=" /tmp/out && say "RUN-MARKER-OK $name" || { say "RUN-MARKER-MISSING $name"; rc=1; }
  grep -q "\"reason\":\"$want\"" /tmp/err && say "RUN-EXIT-OK $name $want" || { say "RUN-EXIT-BAD $name rc=$r"; rc=1; }
  say "RUN-END $name rc=$r"
}
run poweroff poweroff rxl.end=poweroff
run reboot reboot reboot=k rxl.end=reboot
# Without the i8254 PIT (rxl-kvm --no-pit, QEMU microvm's pit=off): Linux must boot on the
# hardware-reduced ACPI tables alone (LAPIC timer, kvm-clock) and still power off.
VMM_ARGS=--no-pit run nopit poweroff rxl.end=poweroff
# The toolstack's shutdown/reboot through the ACPI power button (tests/kvm-lab/l1-button.sh).
. /lab/l1-button.sh
# The domain file the Xen lab boots too (tests/portable, tests/kvm-lab/l1-portable.sh).
. /lab/l1-portable.sh

# Optional side-by-side timing against QEMU microvm (same kernel, initramfs, disk, NIC on
# br0): seconds from VMM start to the guest's L2-UP marker and to VMM exit, from L1's clock.
up() { cut -d' ' -f1 /proc/uptime; }
timed() { # $1 = label, rest = command; the guest powers off at the end
  label=$1; shift
  t0=$(up)
  "$@" 2>&1 | { seen=0; while IFS= read -r line; do
    case $seen:$line in 0:*L2-UP*) seen=1; say "BENCH-MARK $label $(awk -v a="$t0" -v b="$(up)" 'BEGIN{printf "%.2f", b-a}')";; esac
  done; }
  say "BENCH-EXIT $label $(awk -v a="$t0" -v b="$(up)" 'BEGIN{printf "%.2f", b-a}')"
}
if [ -x /usr/bin/qemu-system-x86_64 ]; then
  args="console=ttyS0 panic=-1 $(cat /lab/append) rxl.end=poweroff"
  # rxl-kvm boots the bzImage through its PVH entry from the payload it unpacked into its
  # cache (rxl-kvm-nocache: the guest decompresses, as under QEMU); qemu-microvm-elf boots
  # that same unpacked vmlinux, so both VMMs also run on equal terms.
  # Once cold (empty cache: the guest decompresses its kernel while rxl-kvm unpacks it in the
  # background for the next boot), then warm.
  # The first boot with the unpacking thread at SCHED_IDLE instead of nice 10: does filling
  # the cache slow the guest's own decompression down? (then the usual first boot)
  # Twice each, interleaved.
  for i in 1 2; do
    rm -rf /var/cache/rxl/kernels
    timed rxl-kvm-cold-idle env RXL_UNPACK_PRIORITY=idle /lab/rxl-kvm --name bench \
      --kernel /lab/vmlinuz --initrd /lab/l2.cpio.gz --memory 256 --disk /lab/disk.img,ro \
      --nic bridge=br0 --cmdline "$args"
    say "BENCH-CACHE-IDLE $(ls /var/cache/rxl/kernels/*.elf 2>/dev/null | head -1)"
    rm -rf /var/cache/rxl/kernels
    timed rxl-kvm-cold /lab/rxl-kvm --name bench --kernel /lab/vmlinuz --initrd /lab/l2.cpio.gz \
      --memory 256 --disk /lab/disk.img,ro --nic bridge=br0 --cmdline "$args"
  done
  elf=$(ls /var/cache/rxl/kernels/*.elf 2>/dev/null | head -1)
  say "BENCH-CACHE ${elf:-empty}"
  for i in 1 2 3; do
    timed rxl-kvm /lab/rxl-kvm --name bench --kernel /lab/vmlinuz --initrd /lab/l2.cpio.gz \
      --memory 256 --disk /lab/disk.img,ro --nic bridge=br0 --cmdline "$args"
    timed rxl-kvm-nocache env RXL_KERNEL_CACHE=off /lab/rxl-kvm --name bench --kernel /lab/vmlinuz \
      --initrd /lab/l2.cpio.gz --memory 256 --disk /lab/disk.img,ro --nic bridge=br0 --cmdline "$args"
    (for _ in $(seq 100); do brctl addif br0 qtap0 2>/dev/null && ip link set qtap0 up && break; sleep 0.1; done) &
    timed qemu-microvm qemu-system-x86_64 -M microvm,rtc=on -enable-kvm -cpu host -m 256 -smp 1 \
      -nographic -nodefaults -no-reboot -serial stdio -L /usr/share/qemu \
      -kernel /lab/vmlinuz -initrd /lab/l2.cpio.gz -append "$args" \
      -drive file=/lab/disk.img,if=none,id=d0,format=raw,readonly=on -device virtio-blk-device,drive=d0 \
      -netdev tap,id=n0,ifname=qtap0,script=no,downscript=no -device virtio-net-device,netdev=n0
    [ -n "$elf" ] || continue
    (for _ in $(seq 100); do brctl addif br0 qtap0 2>/dev/null && ip link set qtap0 up && break; sleep 0.1; done) &
    timed qemu-microvm-elf qemu-system-x86_64 -M microvm,rtc=on -enable-kvm -cpu host -m 256 -smp 1 \
      -nographic -nodefaults -no-reboot -serial stdio -L /usr/share/qemu \
      -kernel "$elf" -initrd /lab/l2.cpio.gz -append "$args" \
      -drive file=/lab/disk.img,if=none,id=d0,format=raw,readonly=on -device virtio-blk-device,drive=d0 \
      -netdev tap,id=n0,ifname=qtap0,script=no,downscript=no -device virtio-net-device,netdev=n0
  done
fi
say "DONE rc=$rc"
poweroff -f
