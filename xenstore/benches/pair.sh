#!/usr/bin/env bash
# Runs rxenstore-bench against two rxenstored binaries on this host, alternating them over ROUNDS
# rounds (order swapped each round) so both see the same host load; prints the BENCH lines.
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
for _ in $(seq 100); do [ -S "$dir/a.sock" ] && [ -S "$dir/b.sock" ] && break; sleep 0.1; done
for r in $(seq "$rounds"); do
    if [ $((r % 2)) = 1 ]; then order="a b"; else order="b a"; fi
    for x in $order; do
        if [ "$x" = a ]; then XENSTORED_PATH=$dir/a.sock "$bench" --daemon "$la" "$@"
        else XENSTORED_PATH=$dir/b.sock "$bench" --daemon "$lb" "$@"; fi
    done
done
