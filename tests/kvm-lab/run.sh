#!/usr/bin/env bash
# The KVM lab: Debian's kernel boots in qemu-system-x86_64 -accel tcg -cpu max (emulated AMD SVM
# with nested paging), loads kvm + kvm_amd, and runs rxl-kvm inside on that real /dev/kvm: a
# stock Debian kernel + busybox initramfs boots to a marker, reads a known disk over virtio-blk
# (checksum compared with the host's), pings a bridge in the lab VM over virtio-net on a tap, and
# ends by ACPI power-off and by an i8042 reboot, each mapped to the right exit reason, boots once
# more without the i8254 PIT (--no-pit), and checks that every boot keeps time with kvm-clock or
# the TSC; then `rxl --backend kvm reboot` and `shutdown -w` press the guest's ACPI power button.
# Usage: tests/kvm-lab/run.sh   (root; env WORK=/tmp/rxl-kvm-lab, LAB_TIMEOUT=600, and
#        LAB_BENCH=1 to also time rxl-kvm against QEMU microvm inside the lab, 3 boots each)
# Exit 0 when every check passed; logs in $WORK (serial.log).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
WORK=${WORK:-/tmp/rxl-kvm-lab}
LAB_TIMEOUT=${LAB_TIMEOUT:-600}
# Extra L2 kernel arguments; drop "quiet" for a full L2 boot log (each byte is a nested exit).
L2_APPEND=${L2_APPEND-quiet pci=off}
log() { echo "[kvm-lab $(date +%T)] $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
mkdir -p "$WORK"

log "packages"
"$root/tests/lib/debs.sh" "$root/tests/deps/kvm-lab.debs" "$WORK/ex"
kver=$(basename "$(ls -d "$WORK"/ex/lib/modules/*-amd64 | head -1)")
mods=$WORK/ex/lib/modules/$kver/kernel
vmlinuz=$WORK/ex/boot/vmlinuz-$kver

log "rxl-kvm and rxl (release)"
(cd "$root" && cargo build --release --locked -p rxl-kvm -p rxl >&2)
vmm=${CARGO_TARGET_DIR:-$root/target}/release/rxl-kvm
rxl=${CARGO_TARGET_DIR:-$root/target}/release/rxl

cpio_of() { (cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet); }
copy_mod() { # $1 = path under kernel/ without .ko, $2 = destination dir
  local f; f=$(ls "$mods/$1".ko* 2>/dev/null | head -1)
  [ -n "$f" ] || fail "module $1 missing in $kver"
  case $f in
    *.ko) cp "$f" "$2/";;
    *.ko.xz) xz -dc "$f" > "$2/$(basename "$1").ko";;
    *.ko.zst) zstd -qdc "$f" > "$2/$(basename "$1").ko";;
  esac
}

log "L2 initramfs"
r2=$WORK/l2
rm -rf "$r2"; mkdir -p "$r2"/{bin,dev,proc,sys,lib/modules}
cp "$WORK/ex/bin/busybox" "$r2/bin/"
for a in sh mount insmod ip ping md5sum cut cat sleep poweroff reboot dd; do ln -s busybox "$r2/bin/$a"; done
for m in drivers/virtio/virtio drivers/virtio/virtio_ring drivers/virtio/virtio_mmio \
         drivers/block/virtio_blk net/core/failover drivers/net/net_failover drivers/net/virtio_net \
         drivers/input/evdev drivers/acpi/button; do
  copy_mod "$m" "$r2/lib/modules"
done
install -m 0755 "$here/l2-init.sh" "$r2/init"
cpio_of "$r2" | gzip -1 > "$WORK/l2.cpio.gz"

log "L1 initramfs"
r1=$WORK/l1
rm -rf "$r1"; mkdir -p "$r1"/{bin,dev,proc,sys,tmp,run,lab,lib/modules/l1}
cp "$WORK/ex/bin/busybox" "$r1/bin/"
for a in $("$WORK/ex/bin/busybox" --list); do [ -e "$r1/bin/$a" ] || ln -s busybox "$r1/bin/$a"; done
for m in virt/lib/irqbypass drivers/crypto/ccp/ccp arch/x86/kvm/kvm arch/x86/kvm/kvm-amd \
         net/llc/llc net/802/stp net/bridge/bridge drivers/net/tun; do
  copy_mod "$m" "$r1/lib/modules/l1"
done
cp "$vmm" "$r1/lab/rxl-kvm"
cp "$rxl" "$r1/lab/rxl"
install -m 0644 "$here/l1-button.sh" "$r1/lab/l1-button.sh"
install -m 0644 "$here/l1-portable.sh" "$r1/lab/l1-portable.sh"
# rxl-kvm and rxl are dynamically linked against glibc: bring their library closure along.
for l in $(for b in "$vmm" "$rxl"; do /lib64/ld-linux-x86-64.so.2 --list "$b"; done |
           awk '/=> \//{print $3} /^\t\/lib64/{print $1}' | sort -u); do
  mkdir -p "$r1$(dirname "$l")"; cp -L "$l" "$r1$l"
done
cp "$vmlinuz" "$r1/lab/vmlinuz"
cp "$WORK/l2.cpio.gz" "$r1/lab/"
head -c 1048576 /dev/urandom > "$r1/lab/disk.img"
# The portable guest (tests/portable): the domain file as it is in the repository, this lab's
# kernel, the L2 initramfs with the portable /init appended (the later /init wins), its own disk.
mkdir -p "$r1/lab/portable" "$WORK/portable-init"
install -m 0644 "$root/tests/portable/devices.cfg" "$r1/lab/portable/"
ln -sf /lab/vmlinuz "$r1/lab/portable/kernel"
install -m 0755 "$root/tests/portable/init" "$WORK/portable-init/init"
{ cat "$WORK/l2.cpio.gz"; cpio_of "$WORK/portable-init" | gzip -1; } > "$r1/lab/portable/initrd.gz"
head -c 1048576 /dev/urandom > "$r1/lab/portable/disk.img"
portable_sha=$(sha256sum < "$r1/lab/portable/disk.img" | cut -d' ' -f1)
want_md5=$(md5sum < "$r1/lab/disk.img" | cut -d' ' -f1)
echo "$L2_APPEND" > "$r1/lab/append"
if [ "${LAB_BENCH:-0}" = 1 ]; then
  # The host's QEMU, its library closure and microvm's firmware, for the comparison boots.
  qemu=$(command -v qemu-system-x86_64)
  mkdir -p "$r1/usr/bin" "$r1/usr/share/qemu"
  cp "$qemu" "$r1/usr/bin/"
  for l in $(/lib64/ld-linux-x86-64.so.2 --list "$qemu" | awk '/=> \//{print $3} /^\t\/lib64/{print $1}'); do
    [ -e "$r1$l" ] || { mkdir -p "$r1$(dirname "$l")"; cp -L "$l" "$r1$l"; }
  done
  cp -L /usr/share/qemu/qboot.rom /usr/share/qemu/bios-microvm.bin "$r1/usr/share/qemu/"
fi
install -m 0755 "$here/l1-init.sh" "$r1/init"
cpio_of "$r1" > "$WORK/l1.cpio"

while pgrep -f "qemu-system.*tcg" >/dev/null; do
  log "another TCG lab is running on this host; waiting for it (2 cores)"
  sleep 10
done
log "booting the lab VM (TCG)"
t0=$(date +%s.%N)
timeout -k 10 "$LAB_TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi -M pc -cpu max -m 2048 -smp 2 \
  -nic none -nographic -no-reboot -kernel "$vmlinuz" -initrd "$WORK/l1.cpio" \
  -append "console=ttyS0 quiet panic=-1 rdinit=/init" < /dev/null > "$WORK/serial.log" 2>&1 || true
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
log "lab VM ran ${secs}s; console in $WORK/serial.log"
tr -d '\r' < "$WORK/serial.log" | grep -E "KVMLAB|L2-|\"exit\"|rxl-kvm" >&2 || true

s=$(tr -d '\r' < "$WORK/serial.log")
ok=1
check() { if grep -q -- "$1" <<<"$s"; then log "ok   $2"; else log "FAIL $2 (no '$1')"; ok=0; fi; }
check "KVMLAB KVM-READY" "kvm_amd gives a /dev/kvm in the lab VM"
check "KVMLAB BRIDGE-UP" "bridge br0 in the lab VM"
check "L2-UP kernel=$kver" "Debian kernel boots on rxl-kvm to its marker"
n=$(grep -c -- "L2-BLK-MD5=$want_md5" <<<"$s" || true)
[ "$n" -ge 2 ] && log "ok   virtio-blk: both boots read the disk, md5 $want_md5" || { log "FAIL virtio-blk md5 (want $want_md5 twice, got $n)"; ok=0; }
n=$(grep -c -- "L2-PING-OK" <<<"$s" || true)
[ "$n" -ge 2 ] && log "ok   virtio-net: both boots pinged br0 through the tap" || { log "FAIL virtio-net ping ($n of 2)"; ok=0; }
# The same marker written by init to its stdout: the guest's tty console works (IRQ 4 via ACPI).
if grep -q "^L2-UP kernel=" <<<"$s"; then log "ok   guest userspace writes to the serial console"; else log "FAIL guest tty console (no untimestamped L2-UP)"; ok=0; fi
check "KVMLAB RUN-EXIT-OK poweroff poweroff" "guest poweroff (ACPI S5) ends the VM as poweroff"
check "KVMLAB RUN-EXIT-OK reboot reboot" "guest reboot (i8042) ends the VM as reboot"
check "KVMLAB RUN-MARKER-OK nopit" "Debian kernel boots to its marker without the PIT (rxl-kvm --no-pit)"
check "KVMLAB RUN-EXIT-OK nopit poweroff" "the PIT-less guest powers off (ACPI S5)"
# The PIT runs in discard mode (no reinjected ticks): fine because Linux's clock is kvm-clock
# or the TSC, never PIT ticks ("jiffies"/"pit" clocksources) — checked in every boot.
clocks=$(grep -o 'L2-CLOCK [^ ]* pit-irq=[a-z]*' <<<"$s" | sort | uniq -c | paste -sd';')
if grep -q "L2-CLOCK" <<<"$s" && ! grep -E "L2-CLOCK " <<<"$s" | grep -qvE "L2-CLOCK (kvm-clock|tsc) "; then
  log "ok   every boot keeps time with kvm-clock or the TSC, not PIT ticks ($clocks)"
else log "FAIL guest clocksource not kvm-clock/tsc ($clocks)"; ok=0; fi
check "KVMLAB BUTTON-REBOOT-OK" "rxl --backend kvm reboot: ACPI power button, guest shut down, same domain booted again (on_reboot=restart)"
check "KVMLAB BUTTON-SHUTDOWN-OK" "rxl --backend kvm shutdown -w: ACPI power button, guest powered off, domain gone (on_poweroff=destroy)"
check "KVMLAB BUTTON-PRESSES-SEEN 2" "the guest ran its power-button shutdown path for both requests"
check "KVMLAB PORTABLE-CFG sha256=$(sha256sum < "$root/tests/portable/devices.cfg" | cut -d' ' -f1)" \
  "the portable guest's domain file is tests/portable/devices.cfg, byte for byte"
check "KVMLAB-GUEST PORTABLE-DISK dev=vda sha256=$portable_sha" \
  "portable guest (rxl --backend kvm create, the Xen lab's file): read its disk, sha256 $portable_sha"
check "KVMLAB-GUEST PORTABLE-NET ping=ok mac=00:16:3e:5a:17:0f" \
  "portable guest: pinged 10.99.0.1 on xenbr0 over its vif, with the vif's mac="
check "KVMLAB PORTABLE-GONE" "portable guest powered off; on_poweroff=\"destroy\" removed the domain"
check "KVMLAB DONE rc=0" "lab finished cleanly"
if [ "${LAB_BENCH:-0}" = 1 ]; then
  log "timings inside the lab (s from VMM start; L1 clock): vmm marker exit"
  for v in rxl-kvm-cold rxl-kvm-cold-idle rxl-kvm rxl-kvm-nocache qemu-microvm qemu-microvm-elf; do
    m=$(grep -o "BENCH-MARK $v [0-9.]*" <<<"$s" | awk '{print $3}' | paste -sd' ')
    e=$(grep -o "BENCH-EXIT $v [0-9.]*" <<<"$s" | awk '{print $3}' | paste -sd' ')
    log "  $v marker: $m   exit: $e"
  done
fi
[ $ok = 1 ] || fail "see $WORK/serial.log"
log "PASS"
