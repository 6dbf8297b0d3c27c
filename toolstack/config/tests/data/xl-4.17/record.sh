#!/usr/bin/env bash
# Re-records what Debian's real `xl -N create` (Xen 4.17) says about every NAME.cfg here.
#   record.sh scenario > SCENARIO.sh   a Xen-lab scenario that runs `xl -N create` on each config
#                                      (byte-exact: the configs travel base64-encoded)
#   record.sh import LOG               splits the scenario's log into NAME.xl.json / .xl.stderr / .xl.rc
# To run the scenario, put it in tests/xen-lab/scenarios/ of a scratch clone and run
# `tests/xen-lab/run NAME` there (see tests/xen-lab/README.md); then import its logs/NAME.log.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
case ${1:-} in
scenario)
  cat <<'HEAD'
# Records Debian xl's `xl -N create` JSON, messages and exit code for rxl-config's test configs.
# xen-lab timeout: 240
. /lab/lib.sh
lab_need_toolstack
record() {
    xl -N create "$1.cfg" > "$1.json" 2> "$1.err"
    rc=$?
    echo "@@@XL-BEGIN $1 rc=$rc"; cat "$1.json"
    echo "@@@XL-STDERR $1"; cat "$1.err"
    echo "@@@XL-END $1"
    lab_ok "xl -N create $1: exit $rc"
}
HEAD
  for f in "$here"/*.cfg; do
    n=$(basename "$f" .cfg)
    echo "echo '$(base64 -w0 < "$f")' | base64 -d > '$n.cfg'"
    echo "record '$n'"
  done
  echo "lab_done"
  ;;
import)
  log=${2:?usage: record.sh import LOG}
  awk -v dir="$here" '
    /^@@@XL-BEGIN / { name = $2; rc = substr($3, 4); out = dir "/" name ".xl.json"; printf "" > out; next }
    /^@@@XL-STDERR / { close(out); out = dir "/" name ".xl.stderr"; printf "" > out; next }
    /^@@@XL-END / { close(out); print rc > (dir "/" name ".xl.rc"); close(dir "/" name ".xl.rc"); out = ""; next }
    out != "" { print > out }
  ' "$log"
  ;;
*) echo "usage: record.sh scenario | import LOG" >&2; exit 2;;
esac
