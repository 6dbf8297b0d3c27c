#!/usr/bin/env bash
# Medians of kvm-backend/bench/vm-lifecycle.c over RUNS runs for each STEPS order given, the
# orders interleaved run by run so that host noise hits all of them alike.
# Usage: kvm-backend/bench/vm-lifecycle-medians.sh [MIB] STEPS...   (env: RUNS=30)
#   e.g. kvm-backend/bench/vm-lifecycle-medians.sh 256 ipmfv ipRmfv ipmfvR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mib=256
if [[ ${1:-} =~ ^[0-9]+$ ]]; then mib=$1; shift; fi
RUNS=${RUNS:-30}
bin=$(mktemp /tmp/vm-lifecycle.XXXXXX)
trap 'rm -f "$bin" "$bin".*' EXIT
gcc -O2 -pthread -o "$bin" "$here/vm-lifecycle.c"
for _ in $(seq "$RUNS"); do
  for order in "$@"; do "$bin" "$mib" "$order" | sed "s/^/$order /" >>"$bin.out"; done
done
for order in "$@"; do
  grep "^$order " "$bin.out" | awk -v o="$order" '
    { for (i = 2; i <= NF; i++) { split($i, kv, "="); k[i] = kv[1]; v[i, NR] = kv[2] } n = NF }
    END {
      printf "%-10s", o
      for (i = 2; i <= n; i++) {
        m = 0; for (r = 1; r <= NR; r++) a[r] = v[i, r]
        # insertion sort, NR is small
        for (r = 2; r <= NR; r++) { x = a[r]; j = r - 1; while (j > 0 && a[j] > x) { a[j+1] = a[j]; j-- } a[j+1] = x }
        med = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2
        printf " %s=%.2f", k[i], med
      }
      # a[] holds the sorted totals now (the last column)
      for (r = 1; r <= NR; r++) if (a[r] < 10) u++
      printf "   (total p90 %.1f, max %.1f, under 10 ms %d of %d)\n", a[int(NR * 0.9 + 0.5)], a[NR], u, NR
    }'
done
