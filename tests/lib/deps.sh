#!/usr/bin/env bash
# Installs the Debian packages the project needs, pinned to the versions recorded in
# tests/deps/*.apt ("name=version" per line, '#' comments). A pinned version the mirror no longer
# serves (Debian security updates replace them) falls back to the current one, and says so loudly.
# Usage: tests/lib/deps.sh [AREA...]   (no AREA = every tests/deps/*.apt)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
areas=("$@")
if [ ${#areas[@]} -eq 0 ]; then
  for f in "$root"/tests/deps/*.apt; do areas+=("$(basename "$f" .apt)"); done
fi
want=()
for a in "${areas[@]}"; do
  while read -r line; do
    line=${line%%#*}; line=$(echo "$line" | xargs)
    [ -n "$line" ] && want+=("$line")
  done < "$root/tests/deps/$a.apt"
done
missing=()
for p in "${want[@]}"; do
  name=${p%%=*}; ver=${p#*=}
  have=$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null || true)
  case "$have" in
    "install ok installed $ver") ;;
    "install ok installed "*) [ "$name" = "$ver" ] || echo "deps: $name installed at ${have##* }, pinned $ver (keeping the installed one)";;
    *) missing+=("$p");;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/periodic/rxl-update-stamp
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
  apt-get update -q >/dev/null && mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/rxl-apt.log 2>&1; then
  echo "deps: WARNING pinned versions not available; installing current versions instead:" >&2
  tail -3 /tmp/rxl-apt.log >&2
  apt-get install -y -q --no-install-recommends "${missing[@]%%=*}"
fi
