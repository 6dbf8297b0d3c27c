#!/usr/bin/env bash
# The KVM lab (tests/kvm-lab/run.sh): Debian's kernel under QEMU TCG with emulated AMD SVM loads
# kvm_amd, and rxl-kvm inside boots a stock Debian kernel + initramfs that reads a virtio-blk disk
# (checksum), pings a bridge over virtio-net, then powers off (ACPI S5) and, in a second boot,
# reboots through the i8042, and boots once more without the PIT (`rxl-kvm --no-pit`); every
# boot reports its clocksource (kvm-clock or TSC, never PIT ticks); `rxl --backend kvm reboot`
# and `shutdown -w` then reach a last guest through its ACPI power button. Expected duration: ~3-5 min on 2 cores (waits for other TCG labs).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tests/lib/deps.sh lab kvm
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: the KVM lab needs root (dpkg -x of the kernel, mknod-free cpio, taps in the lab VM)"
  exit 77
fi
exec tests/kvm-lab/run.sh
