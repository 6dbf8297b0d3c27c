#!/bin/sh
# Stand-in for /usr/sbin/grub-probe inside the GRUB lab's throwaway root (bind-mounted over the
# real one in a private mount namespace). grub-mkconfig calls ${sbindir}/grub-probe, which cannot
# be redirected through the environment, and the real one would probe the host's disks.
# It answers as for a BIOS/MBR disk /dev/vda with one ext4 partition holding / and /boot, whose
# filesystem UUID is $RXL_LAB_FS_UUID (the lab's ISO has the same UUID, so the generated
# `search --fs-uuid` finds the ISO at boot).
target=
prev=
for a in "$@"; do
  case "$a" in
    --target=*) target=${a#--target=} ;;
    *) [ "$prev" = "-t" ] && target=$a ;;
  esac
  prev=$a
done
case "$target" in
  device)             echo /dev/vda1 ;;
  disk)               echo /dev/vda ;;
  fs)                 echo ext2 ;;
  fs_uuid)            echo "${RXL_LAB_FS_UUID:-2024-01-01-00-00-00-00}" ;;
  partuuid)           echo 0badcafe-01 ;;
  drive)              echo '(hd0,msdos1)' ;;
  partmap)            echo msdos ;;
  abstraction|cryptodisk_uuid) ;;
  compatibility_hint) echo hd0,msdos1 ;;
  hints_string)       echo '--hint-bios=hd0,msdos1 --hint-efi=hd0,msdos1 --hint-baremetal=ahci0,msdos1' ;;
  fs_label)           echo rootfs ;;
  *) echo "grub-probe-standin: unsupported target '$target' (args: $*)" >&2; exit 1 ;;
esac
