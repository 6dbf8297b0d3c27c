#!/usr/bin/env bash
# rxl grub: Debian's real grub-mkconfig in a throwaway root after `rxl grub` edits, then the
# generated grub.cfg boots Debian's real Xen + dom0 kernel in QEMU (TCG) and dom0's memory must
# equal the dom0_mem rxl set. The RHEL-family path (Xen-first 08_linux_xen ordering, saved_entry)
# runs in a RHEL-like root where grub2-mkconfig/-script-check/-editenv are stand-in wrappers around
# Debian's real tools (Fedora's binaries are not packaged for Debian). Unit tests of the grammar
# and file edits run in suite 20-unit.
# The same ISO then boots under UEFI (OVMF, q35) with the same checks.
# Expected duration on an idle machine: ~1-1.5 min (measured: mkconfig checks incl. fetch 27 s,
# QEMU BIOS boot 18-49 s, UEFI boot 17-33 s), plus the rxl build, waiting for any other QEMU run
# to finish, and the first download of the pinned debs.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: the GRUB lab needs root (mount namespaces and chroot for grub-mkconfig)"; exit 77
fi
tests/lib/deps.sh grub lab
cargo build -q -p rxl --locked
export RXL=${CARGO_TARGET_DIR:-$root/target}/debug/rxl
export WORK=${RXL_GRUB_LAB:-/tmp/rxl-grub-lab}
t0=$(date +%s)
tests/grub-lab/lab.sh fetch
tests/grub-lab/lab.sh mkconfig
tests/grub-lab/lab.sh rhel      # RHEL path; grub2-* are stand-in wrappers around Debian's tools
t1=$(date +%s)
tests/grub-lab/lab.sh boot
t2=$(date +%s)
if [ "${RXL_GRUB_LAB_UEFI:-1}" = 0 ]; then
  echo "70-grub: SKIPPED the UEFI boot (RXL_GRUB_LAB_UEFI=0)"
else
  tests/grub-lab/lab.sh boot-uefi   # same ISO under OVMF (~35 s)
fi
t3=$(date +%s)
echo "70-grub: mkconfig checks (Debian + RHEL) $((t1 - t0)) s, BIOS boot $((t2 - t1)) s, UEFI boot $((t3 - t2)) s"
