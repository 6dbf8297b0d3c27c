#!/usr/bin/env bash
# Downloads pinned Debian packages into a cache and unpacks them, for the labs.
#   tests/lib/debs.sh LIST DEST     LIST: a tests/deps/*.debs file ("name=version" lines)
#                                   DEST: directory to dpkg -x every package into (recreated)
# Downloads go to $RXL_CACHE/debs (default /var/cache/rxl/debs) and are reused. When a pinned version
# has left the mirror (security updates do that), the current version is fetched instead and a
# WARNING names the package and both versions; the kernel package is resolved through
# linux-image-amd64 in that case. $DEST/.versions records what was really used.
set -euo pipefail
list=$1 dest=$2
cache=${RXL_CACHE:-/var/cache/rxl}/debs
mkdir -p "$cache"
[ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ] || apt-get update -qq
files=()
while read -r line; do
  line=${line%%#*}; line=$(echo "$line" | xargs)
  [ -n "$line" ] || continue
  name=${line%%=*} ver=${line#*=}
  # apt names files name_VERSION_arch.deb with the epoch colon written as %3a
  f=""
  for c in "$cache/${name}_${ver//:/%3a}_"*.deb; do [ -e "$c" ] && { f=$c; break; }; done
  if [ -z "$f" ]; then
    if ! (cd "$cache" && apt-get download -q -o APT::Sandbox::User=root "$name=$ver" >/dev/null 2>&1); then
      real=$name
      if [[ $name == linux-image-6* ]]; then
        real=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-6/{print $2; exit}')
      fi
      echo "debs: WARNING $name=$ver is no longer served; using the current $real" >&2
      (cd "$cache" && apt-get download -q -o APT::Sandbox::User=root "$real" >/dev/null) \
        || { echo "debs: cannot download $real" >&2; exit 1; }
      name=$real
    fi
    f=$(find "$cache" -maxdepth 1 -name "${name}_*.deb" -printf '%T@ %p\n' | sort -rn | head -1 | cut -d' ' -f2-)
  fi
  files+=("$f")
done < "$list"
rm -rf "$dest"; mkdir -p "$dest"
for f in "${files[@]}"; do dpkg -x "$f" "$dest"; done
# shellcheck disable=SC2016 # dpkg-deb's own ${field} syntax
for f in "${files[@]}"; do dpkg-deb --show --showformat='${Package}=${Version}\n' "$f"; done > "$dest/.versions"
