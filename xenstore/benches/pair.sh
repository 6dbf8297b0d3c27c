#!/usr/bin/env bash
# Runs rxenstore-bench against two rxenstored binaries on this host, alternating them over ROUNDS
# rounds (order swapped each round) so both see the same host load; prints the BENCH lines and,
# per round, each daemon's own CPU time per operation (BENCH xenstore-cpu).
# Usage: xenstore/benches/pair.sh LABEL_A RXENSTORED_A LABEL_B RXENSTORED_B [ROUNDS] [BENCH ARGS...]
# e.g.   xenstore/benches/pair.sh before /tmp/old/rxenstored after target/release/rxenstored 3 --secs 2
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,5p' "$0"; exit 2; }
la=$1 a=$2 lb=$3 b=$4 rounds=${5:-3}
shift $(($# < 5 ? 4 : 5))
bench=${RXENSTORE_BENCH:-$(dirname "$b")/rxenstore-bench}
dir=$(mktemp -d /tmp/rxenstore-pair.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
for x in a b; do
    bin=$a; [ $x = b ] && bin=$b
    RUST_LOG=warn "$bin" --socket "$dir/$x.sock" --no-state --no-xen 2> "$dir/$x.log" &
    pids+=($!)
done
# utime + stime of a process, in clock ticks.
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
for _ in $(seq 100); do [ -S "$dir/a.sock" ] && [ -S "$dir/b.sock" ] && break; sleep 0.1; done
for r in $(seq "$rounds"); do
    if [ $((r % 2)) = 1 ]; then order="a b"; else order="b a"; fi
    for x in $order; do
        if [ "$x" = a ]; then label=$la pid=${pids[0]}; else label=$lb pid=${pids[1]}; fi
        t0=$(cpu "$pid")
        XENSTORED_PATH=$dir/$x.sock "$bench" --daemon "$label" "$@" | tee "$dir/out"
        t1=$(cpu "$pid")
        ops=$(sed -n 's/.* ops=\([0-9]*\) .*/\1/p' "$dir/out" | awk '{s+=$1} END {print s+0}')
        # The daemon's own CPU (user + system) over the round, per operation of the load.
        awk -v d="$label" -v r="$r" -v t="$((t1 - t0))" -v o="$ops" -v hz="$(getconf CLK_TCK)" \
            'BEGIN { printf "BENCH xenstore-cpu daemon=%s round=%s cpu_s=%.2f ops=%d us_per_op=%.1f\n", d, r, t / hz, o, o ? t / hz * 1e6 / o : 0 }'
    done
done
