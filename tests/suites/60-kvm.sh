#!/usr/bin/env bash
# KVM backend end to end on this host's /dev/kvm, through the release `rxl-kvm` binary:
# the tiny guest kernels rebuild byte-for-byte (reproducible), the PVH kernel reads a
# virtio-blk sector whose checksum is computed here independently, powers off or reboots
# through the i8042, the 64-bit ELF entry works, and bad input fails with exit 2 and the
# file named. (cargo test -p rxl-kvm, run by 20-unit, covers the library and managed mode.)
# type="hvm" runs QEMU as the device model: a boot sector boots from a raw disk (release binary,
# foreground), then the hvm_qemu tests (disk, ISO, pause/resume/reboot/destroy, a killed QEMU).
# Expected duration: ~1 min with a warm cargo cache (release build), a few seconds of guests.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tests/lib/deps.sh kvm kvm-hvm
if ! { exec 3<>/dev/kvm; } 2>/dev/null; then
  echo "SKIP: /dev/kvm is absent or not usable by $(id -un) (load kvm_intel/kvm_amd)"
  exit 77
fi
exec 3>&-
cargo build --locked --release -p rxl-kvm
bin=${CARGO_TARGET_DIR:-$root/target}/release/rxl-kvm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "--- guest kernels rebuild identically"
kvm-backend/guest/build.sh "$tmp/a" && kvm-backend/guest/build.sh "$tmp/b"
for k in pvh.elf long64.elf long64-0x100200.bin; do cmp "$tmp/a/$k" "$tmp/b/$k"; done
g=$tmp/a

echo "--- PVH kernel: UART, MMIO hole, virtio-blk sector checksum, power off"
head -c 8192 /dev/urandom > "$tmp/disk.img"
want=$(head -c 512 "$tmp/disk.img" | od -An -tu4 -v -w4 | awk '{s=(s+$1)%4294967296} END{printf "%08x", s}')
"$bin" --kernel "$g/pvh.elf" --memory 32 --cmdline "console=ttyS0" --disk "$tmp/disk.img,ro" \
  --stats >"$tmp/out" 2>"$tmp/stats"
cat "$tmp/out" "$tmp/stats"
grep -qx "PVH-MAGIC=ok" "$tmp/out"
grep -qx "MMIO-HOLE=ffffffff" "$tmp/out"
grep -qx "VIRTIO-BLK-STATUS=00000000" "$tmp/out"
grep -qx "VIRTIO-BLK-SUM=$want" "$tmp/out" || { echo "checksum mismatch, want $want"; exit 1; }
grep -q '"exit":{"reason":"poweroff"}' "$tmp/stats"

echo "--- PVH kernel: reboot through the i8042"
"$bin" --kernel "$g/pvh.elf" --cmdline reboot --stats >"$tmp/out" 2>"$tmp/stats"
grep -qx "RXL-GUEST: reboot" "$tmp/out"
grep -q '"exit":{"reason":"reboot"}' "$tmp/stats"

echo "--- PVH kernel without the i8254 PIT (--no-pit, the benchmark's lean mode)"
"$bin" --kernel "$g/pvh.elf" --cmdline quiet --no-pit --stats >"$tmp/out" 2>"$tmp/stats"
grep -qx "GUEST-UP" "$tmp/out"
grep -q '"exit":{"reason":"poweroff"}' "$tmp/stats"

echo "--- ELF64 without PVH note: long-mode entry with the zero page"
"$bin" --kernel "$g/long64.elf" --cmdline "abc def" >"$tmp/out"
grep -qx "CMDLINE=abc def" "$tmp/out"
grep -qx "CR3=00009000" "$tmp/out"

echo "--- an xl.cfg: the disk= and extra= keys reach the guest; an HVM config with nothing to boot fails by key"
cat > "$tmp/guest.cfg" <<CFG
name = "suite"
type = "pvh"
memory = 32
kernel = "$g/pvh.elf"
extra = "from-cfg"
disk = [ "$tmp/disk.img,raw,xvda,ro" ]
CFG
"$bin" --config "$tmp/guest.cfg" >"$tmp/out"
grep -qx "CMDLINE=from-cfg" "$tmp/out"
grep -qx "VIRTIO-BLK-SUM=$want" "$tmp/out"
printf 'name = "h"\ntype = "hvm"\n' > "$tmp/hvm.cfg"
rc=0; "$bin" --config "$tmp/hvm.cfg" 2>"$tmp/err" || rc=$?
cat "$tmp/err"
[ "$rc" = 2 ] && grep -q 'nothing to boot' "$tmp/err"

echo "--- type=hvm: QEMU + SeaBIOS boot a raw disk's boot sector; killing rxl-kvm takes QEMU with it"
# Real-mode code: DS=0, print RXL-HVM-SUITE on COM1, then a '.' per timer tick.
{ printf '\xfc\x31\xc0\x8e\xd8\xba\xf8\x03\xbe\x1a\x7c\xac\x84\xc0\x74\x03\xee\xeb\xf8'
  printf '\xfb\xf4\xb0.\xee\xeb\xf9RXL-HVM-SUITE\r\n\0'; } > "$tmp/mbr"
truncate -s 510 "$tmp/mbr"; printf '\x55\xaa' >> "$tmp/mbr"
cp "$tmp/mbr" "$tmp/hvm.img"; truncate -s 1M "$tmp/hvm.img"
printf 'name = "suite-hvm"\ntype = "hvm"\nmemory = 32\nvga = "none"\nserial = "pty"\ndisk = [ "%s,raw,hda,rw" ]\n' \
  "$tmp/hvm.img" > "$tmp/hvm.cfg"
"$bin" --config "$tmp/hvm.cfg" >"$tmp/hvm.out" 2>"$tmp/hvm.err" &
vmm=$!
for _ in $(seq 600); do grep -q RXL-HVM-SUITE "$tmp/hvm.out" && break; sleep 0.1; done
qemu=$(tr -d " " < "/proc/$vmm/task/$vmm/children" 2>/dev/null || true)
kill "$vmm"; wait "$vmm" || true
cat "$tmp/hvm.err"; head -c 200 "$tmp/hvm.out"; echo
grep -q RXL-HVM-SUITE "$tmp/hvm.out" || { echo "no marker from the HVM guest"; exit 1; }
[ -n "$qemu" ] || { echo "rxl-kvm had no QEMU child"; exit 1; }
for _ in $(seq 50); do [ -e "/proc/$qemu" ] || break; sleep 0.1; done
[ ! -e "/proc/$qemu" ] || { echo "QEMU $qemu outlived rxl-kvm"; exit 1; }

echo "--- type=hvm under QEMU: disk and ISO boots, pause/resume, reboot, destroy, a killed QEMU, vif+VNC+USB, guest power-off/reset, a QEMU that cannot start, kernel= direct boot, an HVM spec file started paused"
RXL_HVM_QEMU_TESTS=1 cargo test --locked -p rxl-kvm --test hvm_qemu 2>&1 | tee "$tmp/hvm-tests"
grep -q "test result: ok. 9 passed" "$tmp/hvm-tests"

echo "--- bad input: exit 2, the file named"
rc=0; "$bin" --kernel "$tmp/nope.elf" 2>"$tmp/err" || rc=$?
cat "$tmp/err"
[ "$rc" = 2 ] && grep -q "nope.elf" "$tmp/err"
rc=0; "$bin" --kernel "$g/pvh.elf" --disk "$tmp/missing.img" 2>"$tmp/err" || rc=$?
cat "$tmp/err"
[ "$rc" = 2 ] && grep -q "missing.img" "$tmp/err"
echo "60-kvm: all checks passed"
