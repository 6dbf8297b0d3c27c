#!/usr/bin/env bash
# `rxl` itself on the KVM backend, on this host's /dev/kvm, through the same verbs and the same
# code path as on Xen (the Backend trait): create (-p, -c), list (xl's layout), info, domid,
# domname, pause/unpause, console, shutdown -w, destroy, and a Xen-only verb refused with a
# typed "not supported" error. Tiny guests from kvm-backend/guest (the PVH test kernel), and a
# type="hvm" boot sector under QEMU + SeaBIOS (~10-20 s) through the same verbs.
# Expected duration: ~1-2 min with a warm cargo cache (release build), a few seconds of guests.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tests/lib/deps.sh kvm
if ! { exec 3<>/dev/kvm; } 2>/dev/null; then
  echo "SKIP: /dev/kvm is absent or not usable by $(id -un) (load kvm_intel/kvm_amd)"
  exit 77
fi
exec 3>&-
cargo build --locked --release -p rxl-kvm -p rxl
rel=${CARGO_TARGET_DIR:-$root/target}/release
tmp=$(mktemp -d)
export RXL_KVM_RUN_DIR=$tmp/run RXL_KVM_BIN=$rel/rxl-kvm RUST_LOG=off
rxl() { "$rel/rxl" --backend kvm "$@"; }
cleanup() {
  for f in "$RXL_KVM_RUN_DIR"/*.json; do
    [ -e "$f" ] && { rxl destroy "$(basename "$f" .json)" || true; }
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
kvm-backend/guest/build.sh "$tmp/g" >/dev/null
# guest NAME CMDLINE: an xl.cfg for the PVH test kernel.
guest() {
  printf 'name = "%s"\ntype = "pvh"\nmemory = 32\nkernel = "%s"\nextra = "%s"\n' \
    "$1" "$tmp/g/pvh.elf" "$2" > "$tmp/$1.cfg"
  echo "$tmp/$1.cfg"
}
fail() { echo "FAIL: $*"; exit 1; }

echo "--- create -p, list in xl's layout, domid/domname, unpause, pause"
rxl create -p "$(guest spinner spin)" 2>"$tmp/err" || { cat "$tmp/err"; fail "create -p"; }
grep -q "^Parsing config from .*spinner.cfg" "$tmp/err" || fail "no 'Parsing config from' line"
rxl list | tee "$tmp/list"
head -1 "$tmp/list" | grep -qx $'Name                                        ID   Mem VCPUs\tState\tTime(s)' \
  || fail "list header differs from xl's"
id=$(rxl domid spinner)
[ "$(rxl domname "$id")" = spinner ] || fail "domname $id"
row() { rxl list spinner | awk 'NR == 2 { print $1, $2, $3, $4, $5 }'; }
[ "$(row)" = "spinner $id 32 1 --p---" ] || fail "paused row: $(row)"
rxl unpause spinner
[ "$(row)" = "spinner $id 32 1 r-----" ] || fail "running row: $(row)"
rxl pause "$id"
[ "$(row)" = "spinner $id 32 1 --p---" ] || fail "paused again: $(row)"
json=$(rxl list --json spinner)
[[ $json == *'"phase": "paused"'* ]] || fail "list --json: $json"
info=$(rxl info)
grep -qx 'hypervisor             : kvm' <<<"$info" || fail "info: $info"
[ "$(rxl info nr_cpus)" = "$(nproc)" ] || fail "info nr_cpus selector"

echo "--- a Xen-only verb: one clear line, exit 1, nothing changed"
rc=0; rxl mem-set spinner 16 2>"$tmp/err" || rc=$?
cat "$tmp/err"
[ "$rc" = 1 ] || fail "mem-set exit status $rc"
[ "$(wc -l < "$tmp/err")" = 1 ] || fail "mem-set: more than one line"
# shellcheck disable=SC2016 # the backquotes are literal
grep -q '^rxl: `rxl mem-set` is not supported on kvm: ' "$tmp/err" || fail "mem-set refusal"

echo "--- destroy: gone from list and from the run directory"
rxl destroy spinner
[ "$(rxl list | wc -l)" = 1 ] || fail "still listed after destroy"
[ -z "$(ls "$RXL_KVM_RUN_DIR")" ] || fail "left in the run directory: $(ls "$RXL_KVM_RUN_DIR")"

echo "--- console: keystrokes reach the guest's UART, output comes back, returns when it is gone"
rxl create "$(guest typist echo)" 2>/dev/null
printf 'Z' | timeout 20 "$rel/rxl" --backend kvm console typist > "$tmp/console" \
  || fail "console returned $?"
cat "$tmp/console"
grep -q "^ECHO=Z" "$tmp/console" || fail "no ECHO=Z from the guest"

echo "--- create -c: attached from the first line, returns when the guest powers off"
printf 'Q' | timeout 20 "$rel/rxl" --backend kvm create -c "$(guest typist2 echo)" \
  > "$tmp/console" 2>/dev/null || fail "create -c returned $?"
grep -q "RXL-GUEST: hello" "$tmp/console" || fail "create -c: no boot banner: $(cat "$tmp/console")"
grep -q "^ECHO=Q" "$tmp/console" || fail "create -c: no ECHO=Q: $(cat "$tmp/console")"
[ "$(rxl list | wc -l)" = 1 ] || fail "typist2 still listed after powering off"

echo "--- shutdown -w through the ACPI power button (or a clear refusal without one)"
if grep -q '"button"\|s_button' kvm-backend/guest/pvh.S; then
  rxl create "$(guest presser button)" 2>/dev/null
  for _ in $(seq 100); do grep -q "waiting for the power button" "$RXL_KVM_RUN_DIR"/*.console 2>/dev/null && break; sleep 0.05; done
  timeout 30 "$rel/rxl" --backend kvm shutdown -w presser || fail "shutdown -w presser"
  [ "$(rxl list | wc -l)" = 1 ] || fail "presser still listed after shutdown -w"
else
  rxl create "$(guest spinner2 spin)" 2>/dev/null
  rc=0; rxl shutdown -w spinner2 2>"$tmp/err" || rc=$?
  cat "$tmp/err"
  [ "$rc" = 1 ] || fail "shutdown refusal exit status $rc"
  grep -q "power button" "$tmp/err" || fail "shutdown refusal"
  rxl destroy spinner2
fi

echo "--- type=hvm: QEMU as the device model behind the same verbs (create -p, list, console, unpause/pause, destroy)"
if ! command -v qemu-system-x86_64 >/dev/null; then
  echo "SKIP (HVM part): qemu-system-x86_64 is not installed (tests/deps/kvm-hvm.apt)"
else
  # The boot sector of suite 60-kvm / kvm-backend/tests/hvm_qemu.rs: DS=0, print the marker on
  # COM1, then a '.' per timer tick.
  { printf '\xfc\x31\xc0\x8e\xd8\xba\xf8\x03\xbe\x1a\x7c\xac\x84\xc0\x74\x03\xee\xeb\xf8'
    printf '\xfb\xf4\xb0.\xee\xeb\xf9RXL-HVM-RXL\r\n\0'; } > "$tmp/mbr"
  truncate -s 510 "$tmp/mbr"; printf '\x55\xaa' >> "$tmp/mbr"
  cp "$tmp/mbr" "$tmp/hvm.img"; truncate -s 1M "$tmp/hvm.img"
  printf 'name = "hvm1"\ntype = "hvm"\nmemory = 32\nvga = "none"\nserial = "pty"\ndisk = [ "%s,raw,hda,rw" ]\n' \
    "$tmp/hvm.img" > "$tmp/hvm1.cfg"
  rxl create -p "$tmp/hvm1.cfg" 2>"$tmp/err" || { cat "$tmp/err"; fail "create -p hvm1"; }
  hrow() { rxl list hvm1 | awk 'NR == 2 { print $1, $3, $4, $5 }'; }
  [ "$(hrow)" = "hvm1 32 1 --p---" ] || fail "hvm1 paused row: $(hrow)"
  rxl unpause hvm1
  [ "$(hrow)" = "hvm1 32 1 r-----" ] || fail "hvm1 running row: $(hrow)"
  timeout 60 "$rel/rxl" --backend kvm console hvm1 < /dev/null > "$tmp/hconsole" 2>&1 &
  con=$!
  for _ in $(seq 600); do grep -q RXL-HVM-RXL "$tmp/hconsole" && break; sleep 0.1; done
  grep -q RXL-HVM-RXL "$tmp/hconsole" || fail "console: no marker from the HVM guest: $(head -c 300 "$tmp/hconsole")"
  rxl pause hvm1
  [ "$(hrow)" = "hvm1 32 1 --p---" ] || fail "hvm1 paused again: $(hrow)"
  rxl unpause hvm1
  [ "$(hrow)" = "hvm1 32 1 r-----" ] || fail "hvm1 running again: $(hrow)"
  rxl destroy hvm1
  wait "$con" || fail "console did not return cleanly when hvm1 was destroyed ($?)"
  [ "$(rxl list | wc -l)" = 1 ] || fail "hvm1 still listed after destroy"
  [ -z "$(ls "$RXL_KVM_RUN_DIR")" ] || fail "left in the run directory: $(ls "$RXL_KVM_RUN_DIR")"
  pgrep -f "$tmp/hvm.img" >/dev/null && fail "a QEMU for hvm1 outlived destroy"
fi
echo "62-kvm-rxl: all checks passed"
