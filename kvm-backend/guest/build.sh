#!/usr/bin/env bash
# Builds the tiny test kernels with binutils (through gcc's preprocessor for #include):
#   build.sh OUTDIR  ->  OUTDIR/pvh.elf (PVH note, 32-bit entry), OUTDIR/long64.elf (64-bit entry)
# Reproducible: no timestamps or build ids end up in the images.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out"
for k in pvh long64; do
  gcc -E -P -I"$here" -x assembler-with-cpp "$here/$k.S" -o "$out/$k.s"
  as --64 -o "$out/$k.o" "$out/$k.s"
  ld -m elf_x86_64 --no-warn-rwx-segments -static -nostdlib --build-id=none -T "$here/guest.ld" -o "$out/$k.elf" "$out/$k.o"
done
# The 64-bit kernel again as the protected-mode body of a bzImage: linked 0x200 past the
# load address (the boot protocol's 64-bit entry), flattened; tests prepend a setup header.
ld -m elf_x86_64 --no-warn-rwx-segments -static -nostdlib --build-id=none --defsym=LOAD_ADDR=0x100200 \
  -T "$here/guest.ld" -o "$out/long64-0x100200.elf" "$out/long64.o"
objcopy -O binary "$out/long64-0x100200.elf" "$out/long64-0x100200.bin"
