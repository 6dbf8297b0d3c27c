#!/usr/bin/env bash
# The GRUB lab: `rxl grub` against Debian's REAL grub-mkconfig in a throwaway root, then the
# generated grub.cfg, unmodified, boots Debian's real Xen and a real dom0 kernel in QEMU.
#
#   lab.sh fetch      download + unpack the pinned Xen/kernel/busybox debs (tests/lib/debs.sh)
#   lab.sh mkconfig   throwaway Debian root (tmpfs, private mount namespace, host /usr read-only,
#                     stand-in grub-probe): stock /etc/default/grub + Debian's grub.d/xen.cfg +
#                     xl.conf; rxl grub set-dom0-mem / set-xen-arg / set-default / apply; asserts
#                     on the generated Xen menuentry, grub-script-check, dry-run, idempotence and
#                     a failing apply that must leave grub.cfg untouched
#   lab.sh rhel       the RHEL path: a RHEL-like throwaway root (/etc/redhat-release, RHEL 9's stock
#                     /etc/default/grub with GRUB_ENABLE_BLSCFG, /boot/grub2) where grub2-mkconfig,
#                     grub2-script-check and grub2-editenv are STAND-INS (thin wrappers around
#                     Debian's real grub-mkconfig etc.; Fedora's binaries are not packaged for
#                     Debian); rxl grub set-dom0-mem, set-default xen (20_linux_xen renamed to
#                     08_linux_xen), apply: the Xen entry must come first with our arguments and
#                     grubenv's saved_entry must name it; set-default linux + apply must undo it
#   lab.sh boot       grub-mkrescue ISO with that grub.cfg, Xen, the dom0 kernel and a busybox
#                     initramfs (with rxl inside); QEMU TCG boots it until dom0 prints its memory,
#                     which must equal the dom0_mem rxl set; rxl in dom0 must agree
#   lab.sh boot-uefi  the same ISO under UEFI (OVMF, q35): same checks, plus the EFI-only Xen options
#   lab.sh all        all five
# Needs root (mount namespaces, chroot). Env: RXL (the rxl binary, required), WORK (scratch,
# default /tmp/rxl-grub-lab), DOM0_MEM (default 384M), QEMU_TIMEOUT (default 900 s).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
WORK=${WORK:-/tmp/rxl-grub-lab}
RXL=${RXL:?set RXL to the rxl binary}
DOM0_MEM=${DOM0_MEM:-384M}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-900}
FS_UUID=2024-01-01-00-00-00-00   # what the stand-in grub-probe reports ...
ISO_DATE=2024010100000000        # ... and the ISO's volume UUID (xorriso -volume_date uuid)
export RXL_LAB_FS_UUID=$FS_UUID
DEBS=$WORK/debs
COMMON=$WORK/common

log() { printf '[grub-lab] %s\n' "$*" >&2; }
fail() { printf '[grub-lab] FAIL: %s\n' "$*" >&2; exit 1; }
expect() { # expect DESCRIPTION FILE REGEX
  grep -E -q -- "$3" "$2" || { sed -n '1,200p' "$2" >&2; fail "$1: /$3/ not found in $2"; }
  log "ok: $1"
}

fetch() {
  mkdir -p "$WORK"
  "$REPO/tests/lib/debs.sh" "$REPO/tests/deps/xen-lab.debs" "$DEBS"
  "$REPO/tests/lib/debs.sh" "$HERE/grub-lab.debs" "$COMMON"
  ls "$DEBS"/boot/xen-*.gz "$DEBS"/boot/vmlinuz-* "$DEBS/bin/busybox" "$COMMON/etc/default/grub.d/xen.cfg" >/dev/null
}

kver() { basename "$(ls "$DEBS"/boot/vmlinuz-* | head -1)" | sed 's/^vmlinuz-//'; }

# Runs inside `unshare -m`: everything mounted here vanishes with the namespace.
mkconfig_inner() {
  local R=$WORK/root K; K=$(kver)
  mkdir -p "$R" && mount -t tmpfs rxl-grub-lab "$R"
  mkdir -p "$R"/{usr,etc/default/grub.d,etc/xen,boot/grub,proc,dev,tmp,sys,run}
  for l in bin sbin lib lib64; do ln -s "usr/$l" "$R/$l"; done
  mount --rbind /usr "$R/usr" && mount -o remount,bind,ro "$R/usr"
  mount --rbind /dev "$R/dev"
  mount -t proc proc "$R/proc"
  cp -a /etc/grub.d "$R/etc/grub.d"                 # the real 10_linux, 20_linux_xen, ...
  cp /etc/passwd /etc/group /etc/debian_version "$R/etc/"
  cp /usr/share/grub/default/grub "$R/etc/default/grub"   # Debian's stock template (grub2-common)
  sed -i 's/^GRUB_TIMEOUT=5$/GRUB_TIMEOUT=0/' "$R/etc/default/grub"   # no 5 s menu wait in QEMU
  cp "$COMMON/etc/default/grub.d/xen.cfg" "$R/etc/default/grub.d/"
  cp "$DEBS/etc/xen/xl.conf" "$R/etc/xen/xl.conf"
  cp "$DEBS"/boot/xen-* "$R/boot/"                  # .gz, .efi and .config, as the package installs
  cp "$DEBS/boot/vmlinuz-$K" "$DEBS/boot/config-$K" "$R/boot/"
  echo placeholder-initrd >"$R/boot/initrd.img-$K"  # replaced by the real initramfs on the ISO
  mount --bind "$HERE/grub-probe-standin.sh" "$R/usr/sbin/grub-probe"
  local out=$WORK/out; rm -rf "$out"; mkdir -p "$out"
  cp "$R/etc/default/grub" "$out/grub.stock"

  log "rxl grub set-dom0-mem $DOM0_MEM (dry run first: nothing may change)"
  "$RXL" grub --root "$R" --dry-run set-dom0-mem "$DOM0_MEM" --host-mem 1G >"$out/dry.diff"
  cmp -s "$R/etc/default/grub" "$out/grub.stock" || fail "--dry-run changed /etc/default/grub"
  expect "dry run shows the dom0_mem line as a diff" "$out/dry.diff" '^\+GRUB_CMDLINE_XEN_DEFAULT="dom0_mem='
  expect "dry run shows autoballoon" "$out/dry.diff" '^\+autoballoon="off"'
  if "$RXL" grub --root "$R" set-dom0-mem 4G --host-mem 1G 2>"$out/toobig.err"; then fail "4G on a 1G host accepted"; fi
  expect "refuses more than the host's RAM" "$out/toobig.err" "more than the host's memory"
  "$RXL" grub --root "$R" set-dom0-mem "$DOM0_MEM" --host-mem 1G
  "$RXL" grub --root "$R" set-dom0-mem "$DOM0_MEM" --host-mem 1G >"$out/again.txt"
  expect "set-dom0-mem is idempotent" "$out/again.txt" 'already set, nothing to change'
  # smap=0: Xen under QEMU TCG -cpu max needs it; console on the serial port for the assertions.
  "$RXL" grub --root "$R" set-xen-arg smap=0 console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all
  if "$RXL" grub --root "$R" set-xen-arg dom0_max_vcpus=two 2>"$out/badarg.err"; then fail "bad option accepted"; fi
  expect "invalid Xen option refused with the reason" "$out/badarg.err" 'dom0_max_vcpus=two.*N, N-, -M or N-M'
  # Stock Debian + xen-hypervisor-common: set-dom0-mem alone already gives a Xen default (Debian's
  # xen.cfg treats an unset XEN_OVERRIDE_GRUB_DEFAULT as 1); set-default xen makes it explicit.
  "$RXL" grub --root "$R" --dry-run apply >"$out/apply-first.txt" 2>&1
  expect "one set-dom0-mem + apply already boots Xen by default" "$out/apply-first.txt" '^default: +"Debian GNU/Linux, with Xen hypervisor" \(Xen\)'
  "$RXL" grub --root "$R" set-default xen
  cp "$R/etc/default/grub" "$out/grub.edited"; cp "$R/etc/xen/xl.conf" "$out/xl.conf"
  diff -u "$out/grub.stock" "$out/grub.edited" >"$out/grub.diff" || true
  expect "stock comments kept" "$out/grub.edited" "^# If you change this file, run 'update-grub' afterwards"
  expect "autoballoon off in xl.conf" "$out/xl.conf" '^autoballoon="off"$'

  log "rxl grub apply (Debian's grub-mkconfig in the chroot)"
  local t0=$(date +%s.%N)
  "$RXL" grub --root "$R" apply >"$out/apply.txt" 2>"$out/apply.err" || { cat "$out/apply.err"; fail "apply"; }
  log "apply took $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}') s"
  cat "$out/apply.txt" "$out/apply.err" >&2
  local cfg=$R/boot/grub/grub.cfg
  cp "$cfg" "$out/grub.cfg"
  grub-script-check "$out/grub.cfg" || fail "grub-script-check rejected the generated grub.cfg"
  log "ok: grub-script-check"
  local mb="^[[:space:]]*multiboot2[[:space:]]+/boot/xen-[0-9.]+-amd64\.gz placeholder .*dom0_mem=${DOM0_MEM},max:${DOM0_MEM}"
  expect "Xen entry: multiboot2 xen.gz with our dom0_mem" "$out/grub.cfg" "$mb"
  expect "Xen entry: our other Xen options" "$out/grub.cfg" "${mb} smap=0 console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all"
  expect "Xen entry: module2 the dom0 kernel" "$out/grub.cfg" "^[[:space:]]*module2[[:space:]]+/boot/vmlinuz-$K placeholder root="
  expect "Xen entry: module2 --nounzip the initrd" "$out/grub.cfg" "^[[:space:]]*module2[[:space:]]+--nounzip[[:space:]]+/boot/initrd.img-$K"
  expect "Xen entry is the default, by title" "$out/grub.cfg" '^[[:space:]]*set default="Debian GNU/Linux, with Xen hypervisor"'
  expect "apply reports the Xen entry" "$out/apply.txt" '^Xen entry: "Debian GNU/Linux, with Xen hypervisor"'
  expect "apply reports a Xen default" "$out/apply.txt" '^default: +"Debian GNU/Linux, with Xen hypervisor" \(Xen\)'
  "$RXL" grub --root "$R" status >"$out/status.txt"
  expect "status: dom0 kernel found" "$out/status.txt" "^dom0 kernel: +/boot/vmlinuz-$K"
  expect "status: dom0_mem parsed" "$out/status.txt" "^dom0_mem: +${DOM0_MEM},max:${DOM0_MEM}  -> initial"
  expect "status: default is Xen" "$out/status.txt" '\(Xen\)$'
  "$RXL" grub --root "$R" status --json >"$out/status.json"
  expect "status --json" "$out/status.json" '"default_is_xen": true'

  local sum; sum=$(sha256sum <"$cfg")
  "$RXL" grub --root "$R" set-xen-arg dom0_max_vcpus=1
  "$RXL" grub --root "$R" --dry-run apply >"$out/apply-dry.txt" 2>&1
  expect "apply --dry-run shows the change" "$out/apply-dry.txt" '^\+.*multiboot2.*dom0_max_vcpus=1'
  [ "$(sha256sum <"$cfg")" = "$sum" ] || fail "apply --dry-run changed grub.cfg"
  "$RXL" grub --root "$R" unset-xen-arg dom0_max_vcpus
  "$RXL" grub --root "$R" apply >/dev/null 2>&1
  [ "$(sha256sum <"$cfg")" = "$sum" ] || fail "unset-xen-arg + apply did not restore the same grub.cfg"
  log "ok: apply --dry-run writes nothing; set/unset round trip regenerates the same grub.cfg"

  log "a failing apply must keep grub.cfg (no dom0-capable kernel -> no Xen entry)"
  mv "$R/boot/config-$K" "$WORK/config.aside"
  if "$RXL" grub --root "$R" apply >/dev/null 2>"$out/apply-fail.err"; then fail "apply without a dom0 kernel succeeded"; fi
  mv "$WORK/config.aside" "$R/boot/config-$K"
  expect "failed apply says why" "$out/apply-fail.err" 'has no Xen entry loading a dom0 kernel.*left unchanged'
  [ "$(sha256sum <"$cfg")" = "$sum" ] || fail "grub.cfg changed after a failed apply"
  ls -A "$R/boot/grub" | grep -q '\.rxl-' && fail "temporary files left in /boot/grub"
  log "ok: grub.cfg untouched, no temporary files left"
  log "a failing generator must keep grub.cfg (a grub.d snippet that breaks the generated script)"
  printf 'GRUB_CMDLINE_LINUX_XEN_REPLACE_DEFAULT="console=hvc0 \\""\n' >"$R/etc/default/grub.d/99-broken.cfg"
  if "$RXL" grub --root "$R" apply >/dev/null 2>"$out/apply-broken.err"; then fail "apply with a broken snippet succeeded"; fi
  rm "$R/etc/default/grub.d/99-broken.cfg"
  expect "generator failure reported with its output" "$out/apply-broken.err" 'grub-mkconfig failed .*[Ss]yntax.*left unchanged'
  [ "$(sha256sum <"$cfg")" = "$sum" ] || fail "grub.cfg changed after a failed grub-mkconfig"
  ls -A "$R/boot/grub" | grep -q '\.rxl-' && fail "temporary files left in /boot/grub after a failed grub-mkconfig"
  log "ok: grub.cfg untouched, no temporary files left"
  cp -r "$R/etc" "$out/etc"   # for the dom0 initramfs (rxl grub status inside dom0)
}

mkconfig() {
  [ -d "$DEBS/boot" ] || fetch
  unshare -m --propagation private "$0" _mkconfig_inner
}

# first_entry CFG: the first top-level menuentry block of a grub.cfg (title line to closing brace).
first_entry() { awk '/^menuentry /{p=1} p{print} p&&/^}/{exit}' "$1"; }
# saved_entry ROOT: saved_entry from ROOT's /boot/grub2/grubenv, read with GRUB's own editenv.
saved_entry() { grub-editenv "$1/boot/grub2/grubenv" list | sed -n 's/^saved_entry=//p'; }

# Runs inside `unshare -m`, like mkconfig_inner, for the RHEL family.
rhel_inner() {
  local R=$WORK/rhel-root K out=$WORK/rhel-out; K=$(kver)
  mkdir -p "$R" && mount -t tmpfs rxl-grub-rhel "$R"
  mkdir -p "$R"/{usr,etc/default,etc/xen,boot/grub2,proc,dev,tmp,sys,run}
  for l in bin sbin lib lib64; do ln -s "usr/$l" "$R/$l"; done
  mount --rbind /usr "$R/usr" && mount -o remount,bind,ro "$R/usr"
  mount --rbind /dev "$R/dev"
  mount -t proc proc "$R/proc"
  # Debian's grub-common 10_linux/20_linux_xen stand in for grub2-tools' (same upstream scripts;
  # Fedora's 10_linux would add a blscfg command, which does not change the Xen entries).
  cp -a /etc/grub.d "$R/etc/grub.d"
  cp /etc/passwd /etc/group "$R/etc/"
  echo 'Rocky Linux release 9.4 (Blue Onyx)' >"$R/etc/redhat-release"
  ln -s redhat-release "$R/etc/system-release"
  # RHEL 9's stock /etc/default/grub (anaconda writes this), with the distributor pinned: rxl
  # evaluates the file with the host's sh, where /etc/system-release is not the root's.
  cat >"$R/etc/default/grub" <<'EOF'
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR="Rocky Linux"
GRUB_DEFAULT=saved
GRUB_DISABLE_SUBMENU=true
GRUB_TERMINAL_OUTPUT="console"
GRUB_CMDLINE_LINUX="crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M rd.lvm.lv=rl/root rhgb quiet"
GRUB_DISABLE_RECOVERY="true"
GRUB_ENABLE_BLSCFG=true
EOF
  cp "$DEBS/etc/xen/xl.conf" "$R/etc/xen/xl.conf"
  cp "$DEBS"/boot/xen-*.gz "$DEBS"/boot/xen-*.config "$R/boot/"   # as the Virt SIG's xen-hypervisor
  cp "$DEBS/boot/vmlinuz-$K" "$DEBS/boot/config-$K" "$R/boot/"
  echo placeholder-initramfs >"$R/boot/initramfs-$K.img"          # RHEL's initramfs name
  mount --bind "$HERE/grub-probe-standin.sh" "$R/usr/sbin/grub-probe"
  # The STAND-INS for Fedora's grub2-* binaries, in the root's /usr/local/sbin (a tmpfs here).
  mount -t tmpfs rxl-grub-rhel-sbin "$R/usr/local/sbin"
  local t
  for t in mkconfig script-check editenv; do
    printf '#!/bin/sh\n# STAND-IN for Fedora/RHEL grub2-%s (grub2-tools): Debian real grub-%s.\nexec grub-%s "$@"\n' \
      "$t" "$t" "$t" >"$R/usr/local/sbin/grub2-$t"
    chmod 755 "$R/usr/local/sbin/grub2-$t"
  done
  # Debian's grub-mkconfig reads saved_entry with `grub-editenv -`, whose default file is compiled
  # in as /boot/grub/grubenv (Fedora's grub2-editenv: /boot/grub2/grubenv); make the two one.
  mkdir -p "$R/boot/grub" && mount --bind "$R/boot/grub2" "$R/boot/grub"
  rm -rf "$out"; mkdir -p "$out"
  local cfg=$R/boot/grub2/grub.cfg
  "$RXL" grub --root "$R" status >"$out/status0.txt"
  expect "RHEL layout detected" "$out/status0.txt" '^root: .*[(]RedHat, boot/grub2/grub.cfg[)]$'
  expect "status: stock order" "$out/status0.txt" '^grub.d order: +native Linux entries first'

  log "rhel: set-dom0-mem, set-xen-arg, set-default xen"
  "$RXL" grub --root "$R" set-dom0-mem 512M --host-mem 2G
  "$RXL" grub --root "$R" set-xen-arg console=com1 com1=115200,8n1
  "$RXL" grub --root "$R" --dry-run set-default xen >"$out/dry-default.txt"
  expect "dry run names the rename" "$out/dry-default.txt" '^would rename .*/etc/grub.d/20_linux_xen to .*/etc/grub.d/08_linux_xen$'
  [ -f "$R/etc/grub.d/20_linux_xen" ] && [ ! -e "$R/etc/grub.d/08_linux_xen" ] || fail "--dry-run renamed a script"
  "$RXL" grub --root "$R" set-default xen >"$out/default.txt"
  [ -x "$R/etc/grub.d/08_linux_xen" ] && [ ! -e "$R/etc/grub.d/20_linux_xen" ] || fail "20_linux_xen not renamed to 08_linux_xen"
  cmp -s "$R/etc/grub.d/08_linux_xen" /etc/grub.d/20_linux_xen || fail "08_linux_xen is not the distribution's script"
  log "ok: 20_linux_xen is now 08_linux_xen (same content, executable)"
  "$RXL" grub --root "$R" set-default xen >"$out/default-again.txt"
  expect "set-default xen is idempotent" "$out/default-again.txt" 'already set, nothing to change'

  log "rhel: rxl grub apply (grub2-mkconfig stand-in -> Debian's grub-mkconfig, in the chroot)"
  "$RXL" grub --root "$R" apply >"$out/apply.txt" 2>"$out/apply.err" || { cat "$out/apply.err"; fail "rhel apply"; }
  cat "$out/apply.txt" "$out/apply.err" >&2
  cp "$cfg" "$out/grub.cfg"
  grub-script-check "$out/grub.cfg" || fail "grub-script-check rejected the RHEL grub.cfg"
  first_entry "$out/grub.cfg" >"$out/first.txt"
  expect "first menu entry is Xen" "$out/first.txt" "^menuentry 'Rocky Linux GNU/Linux, with Xen [^']* and Linux $K'"
  expect "first entry: multiboot2 xen.gz with our arguments" "$out/first.txt" \
    '^[[:space:]]*multiboot2[[:space:]]+/boot/xen-[0-9.]+-amd64\.gz placeholder .*dom0_mem=512M,max:512M console=com1 com1=115200,8n1'
  expect "first entry: module2 the dom0 kernel with RHEL's Linux args" "$out/first.txt" "^[[:space:]]*module2[[:space:]]+/boot/vmlinuz-$K placeholder root=.* crashkernel="
  expect "first entry: module2 --nounzip the initramfs" "$out/first.txt" "^[[:space:]]*module2[[:space:]]+--nounzip[[:space:]]+/boot/initramfs-$K.img"
  expect "grub.cfg boots saved_entry" "$out/grub.cfg" '^[[:space:]]*set default="\$\{saved_entry\}"'
  local title; title=$(sed -n "1s/^menuentry '\([^']*\)'.*/\1/p" "$out/first.txt")
  [ "$(saved_entry "$R")" = "$title" ] || fail "saved_entry is '$(saved_entry "$R")', want the first (Xen) entry '$title'"
  log "ok: saved_entry in /boot/grub2/grubenv is '$title'"
  expect "apply reports the saved_entry it set" "$out/apply.txt" "^saved_entry: set to \"$title\""
  expect "apply reports a Xen default" "$out/apply.txt" "^default: +\"$title\" \(Xen\)"
  "$RXL" grub --root "$R" status >"$out/status.txt"
  expect "status: default is Xen" "$out/status.txt" '\(Xen\)$'
  expect "status: Xen-first order" "$out/status.txt" '^grub.d order: +Xen entries first [(]08_linux_xen[)]'
  local sum; sum=$(sha256sum <"$cfg")
  "$RXL" grub --root "$R" apply >"$out/apply2.txt" 2>&1
  [ "$(sha256sum <"$cfg")" = "$sum" ] || fail "a second apply changed grub.cfg"
  grep -q '^saved_entry:' "$out/apply2.txt" && fail "a second apply touched saved_entry again"
  log "ok: apply is idempotent (same grub.cfg, saved_entry left alone)"

  log "rhel: set-default linux + apply undo the Xen-first order"
  "$RXL" grub --root "$R" set-default linux >"$out/linux.txt"
  [ -x "$R/etc/grub.d/20_linux_xen" ] && [ ! -e "$R/etc/grub.d/08_linux_xen" ] || fail "08_linux_xen not renamed back"
  "$RXL" grub --root "$R" apply >"$out/apply-linux.txt" 2>&1 || { cat "$out/apply-linux.txt"; fail "apply after set-default linux"; }
  first_entry "$cfg" >"$out/first-linux.txt"
  expect "first entry is native Linux again" "$out/first-linux.txt" "^menuentry 'Rocky Linux GNU/Linux, with Linux $K'"
  title=$(sed -n "1s/^menuentry '\([^']*\)'.*/\1/p" "$out/first-linux.txt")
  [ "$(saved_entry "$R")" = "$title" ] || fail "saved_entry is '$(saved_entry "$R")', want '$title'"
  expect "apply still finds the Xen entry (now after the native ones)" "$out/apply-linux.txt" '^Xen entry: "Rocky Linux GNU/Linux, with Xen'
  expect "apply reports a native default" "$out/apply-linux.txt" "^default: +\"$title\" \(not Xen"
  log "ok: native entry first and saved_entry '$title'"
}

rhel() {
  [ -d "$DEBS/boot" ] || fetch
  unshare -m --propagation private "$0" _rhel_inner
}

initramfs() { # initramfs OUT: busybox, /init, and rxl with its libraries and the edited /etc
  local d=$WORK/initramfs; rm -rf "$d"; mkdir -p "$d"/{bin,proc,sys,dev,boot/grub,lib64,lib/x86_64-linux-gnu}
  cp "$DEBS/bin/busybox" "$d/bin/busybox"
  cp "$HERE/dom0-init.sh" "$d/init"
  strip -o "$d/bin/rxl" "$RXL"
  for lib in $(ldd "$RXL" | awk '/=> \//{print $3} /^[[:space:]]*\/lib64/{print $1}'); do cp -L "$lib" "$d$lib"; done
  cp -r "$WORK/out/etc" "$d/etc"
  cp "$WORK/out/grub.cfg" "$d/boot/grub/grub.cfg"
  # privcmd (hypercalls: rxl asks Xen's physinfo for the host's RAM) and xenfs (/proc/xen)
  mkdir -p "$d/lib/modules"
  cp "$DEBS"/lib/modules/*/kernel/drivers/xen/xen-privcmd.ko "$DEBS"/lib/modules/*/kernel/drivers/xen/xenfs/xenfs.ko "$d/lib/modules/"
  (cd "$d" && find . | cpio -o -H newc --quiet | gzip -1) >"$1"
}

iso() { # the BIOS+UEFI ISO: the unmodified grub.cfg, Xen, the dom0 kernel and initramfs
  [ -f "$WORK/out/grub.cfg" ] || mkconfig
  local K; K=$(kver)
  local d=$WORK/iso; rm -rf "$d"; mkdir -p "$d/tree/boot/grub"
  cp "$WORK/out/grub.cfg" "$d/tree/boot/grub/grub.cfg"   # unmodified
  cp "$DEBS"/boot/xen-*.gz "$DEBS/boot/vmlinuz-$K" "$d/tree/boot/"
  initramfs "$d/tree/boot/initrd.img-$K"
  grub-mkrescue -o "$d/lab.iso" "$d/tree" -- -volume_date uuid "$ISO_DATE" >"$d/mkrescue.log" 2>&1 \
    || { cat "$d/mkrescue.log"; fail "grub-mkrescue"; }
  if [ -d /usr/lib/grub/x86_64-efi ]; then touch "$d/has-efi"; fi   # grub-mkrescue added EFI boot
}

wait_for_qemu() { # never two QEMU TCG runs at once on this machine
  local waited=0
  while pgrep -f qemu-system >/dev/null; do
    [ $waited -eq 0 ] && log "another QEMU is running; waiting for it to finish"
    sleep 5; waited=$((waited + 5))
    [ $waited -lt 1800 ] || fail "another QEMU kept running for 30 minutes"
  done
}

# run_qemu bios|uefi: boots the ISO until dom0 reboots (Xen resets; -no-reboot ends QEMU).
run_qemu() {
  local d=$WORK/iso mode=$1 machine fw=()
  case $mode in
    bios) machine=pc ;;
    uefi) machine=q35
          cp /usr/share/OVMF/OVMF_VARS_4M.fd "$d/OVMF_VARS.fd"
          fw=(-drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd
              -drive "if=pflash,format=raw,file=$d/OVMF_VARS.fd") ;;
  esac
  wait_for_qemu
  log "booting the ISO in QEMU ($mode, TCG, -cpu max, -nic none)"
  local t0=$(date +%s) rc=0
  timeout "$QEMU_TIMEOUT" qemu-system-x86_64 -machine "$machine,accel=tcg" -cpu max -m 1024 -smp 1 \
    "${fw[@]}" -nic none -display none -monitor none -serial "file:$d/serial-$mode.log" -no-reboot \
    -cdrom "$d/lab.iso" -boot d || rc=$?
  log "QEMU ($mode) exited rc=$rc after $(( $(date +%s) - t0 )) s"
  tr -d '\r' <"$d/serial-$mode.log" >"$d/serial-$mode.txt"
}

# check_dom0 SERIAL: what the booted dom0 must show.
check_dom0() {
  local serial=$1
  grep -a -E '\(XEN\) (Xen version|Command line)|RXL-' "$serial" >&2 || true
  expect "Xen got our arguments from GRUB" "$serial" "\(XEN\) Command line: placeholder .*dom0_mem=${DOM0_MEM},max:${DOM0_MEM} smap=0"
  expect "dom0 reached the initramfs" "$serial" '^RXL-DOM0-MEM '
  local want_kib cur tgt
  want_kib=$(( $(echo "$DOM0_MEM" | sed 's/M$//') * 1024 ))
  cur=$(sed -n 's/^RXL-DOM0-MEM current_kb=\([0-9]*\).*/\1/p' "$serial" | head -1)
  tgt=$(sed -n 's/^RXL-DOM0-MEM .*target_kb=\([0-9]*\).*/\1/p' "$serial" | head -1)
  log "dom0 memory: balloon current ${cur} KiB, target ${tgt} KiB; rxl set ${want_kib} KiB"
  [ "$cur" = "$want_kib" ] || fail "dom0 has ${cur} KiB, rxl set dom0_mem=${DOM0_MEM} (${want_kib} KiB)"
  log "ok: dom0 memory equals the dom0_mem rxl set"
  expect "rxl in dom0 sees a Xen dom0 whose memory matches" "$serial" "^running system: +Xen dom0, dom0 memory ${DOM0_MEM%M} MiB = configured dom0_mem"
  # Host RAM under Xen: dom0's MemTotal is only dom0's share, so rxl must ask Xen (physinfo).
  # QEMU gives the host 1024 MiB: 2G must be refused naming ~1 GiB, 768M (twice dom0's memory)
  # accepted; checking against MemTotal would refuse it.
  local memtotal host_mib
  memtotal=$(sed -n 's/^RXL-DOM0-MEM .*memtotal_kb=\([0-9]*\).*/\1/p' "$serial" | head -1)
  [ "${memtotal:-0}" -lt $((768 * 1024)) ] || fail "dom0 MemTotal ${memtotal} KiB is not below 768M; the check proves nothing"
  expect "dom0: 2G refused against the host's RAM" "$serial" "^RXL-HOSTMEM-2G rc=[1-9].*more than the host's memory \\([0-9]+ MiB\\)"
  host_mib=$(sed -n "s/^RXL-HOSTMEM-2G .*more than the host's memory (\([0-9]*\) MiB).*/\1/p" "$serial" | head -1)
  [ "$host_mib" -gt 900 ] && [ "$host_mib" -le 1024 ] || fail "host memory from physinfo is ${host_mib} MiB, QEMU has 1024"
  expect "dom0: 768M accepted (host RAM from physinfo, not dom0's MemTotal)" "$serial" '^RXL-HOSTMEM-768M rc=0 '
  grep -a '^RXL-HOSTMEM-768M' "$serial" | grep -q "memory is unknown" && fail "rxl in dom0 could not ask Xen for the host's memory"
  log "ok: in dom0 (MemTotal ${memtotal} KiB) rxl took the host's RAM from Xen: ${host_mib} MiB"
}


boot() { iso; run_qemu bios; check_dom0 "$WORK/iso/serial-bios.txt"; }

# UEFI: the same ISO and grub.cfg under OVMF (q35). 20_linux_xen adds `no-real-mode edd=off` to
# Xen's command line on EFI; the rest must be identical.
boot_uefi() {
  [ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || fail "OVMF is not installed (package ovmf)"
  [ -d /usr/lib/grub/x86_64-efi ] || fail "grub-efi-amd64-bin is not installed: the ISO would not boot on UEFI"
  [ -f "$WORK/iso/has-efi" ] || iso
  run_qemu uefi
  local serial=$WORK/iso/serial-uefi.txt
  expect "UEFI: GRUB passed the EFI-only Xen options" "$serial" '\(XEN\) Command line: placeholder .* no-real-mode edd=off'
  expect "UEFI: Xen got the EFI memory map (booted through EFI)" "$serial" '^\(XEN\) EFI RAM map:'
  check_dom0 "$serial"
}

case "${1:-all}" in
  fetch) fetch ;;
  mkconfig) mkconfig ;;
  _mkconfig_inner) mkconfig_inner ;;
  rhel) rhel ;;
  _rhel_inner) rhel_inner ;;
  boot) boot ;;
  boot-uefi) boot_uefi ;;
  all) fetch; mkconfig; rhel; boot; boot_uefi ;;
  *) sed -n '2,27p' "$0"; exit 2 ;;
esac
