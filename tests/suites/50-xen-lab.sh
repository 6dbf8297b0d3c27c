#!/usr/bin/env bash
# The Xen lab: real Xen 4.17 + Debian dom0 under QEMU TCG, every scenario of tests/xen-lab/scenarios
# (Debian's xl as the reference, rxl's binaries where built). Expected: ~3-5 min with a warm cache
# (packages, base image, cargo), +1-2 min for the first package download and image build, plus the
# release build of rxl's binaries. See tests/xen-lab/README.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
"$root/tests/lib/deps.sh" lab
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: the Xen lab needs root (mknod and chroot while building dom0's initramfs)"
    exit 77
fi
echo "host QEMU: $(qemu-system-x86_64 --version | head -1)"
# every scenario's header parses (a bad one is an error naming file:line)
"$root/tests/xen-lab/run" --list
# Known gaps are listed, with the issue and the reason, in tests/xen-lab/known-gaps.
scenarios=()
while read -r name _; do
  gap=$(awk -v n="$name" '$1 == n { $1 = ""; print; exit }' "$root/tests/xen-lab/known-gaps")
  manual=$(awk -v n="$name" '$1 == n { $1 = ""; print; exit }' "$root/tests/xen-lab/manual-only")
  if [ -n "$gap" ] && [ -z "${RXL_LAB_ALL:-}" ]; then
    echo "SKIP  $name: known gap, issue$gap"
  elif [ -n "$manual" ] && [ -z "${RXL_LAB_ALL:-}" ]; then
    echo "SKIP  $name: run by hand (tests/xen-lab/run $name):$manual"
  else
    scenarios+=("$name")
  fi
done < <("$root/tests/xen-lab/run" --list | awk '{print $1}')
"$root/tests/xen-lab/run" "${scenarios[@]}"
