#!/usr/bin/env bash
# Xenstore: rxenstored against real peers, no Xen needed.
#  1. conformance (under both daemon event loops, io_uring and epoll): Debian's xenstore-read/-write/-ls/-list/-rm/-chmod/-exists/-watch and Xen's
#     test-xenstore against rxenstored; rxenstore's output compared byte for byte with theirs;
#     the Rust client; adversarial cases from the xenstored XSAs; live update of the daemon with
#     clients staying connected (cargo test targets);
#  2. txn_stress.c linked to Debian's libxenstore: transaction increments from 6 processes,
#     no update lost; then test-xenstore's random mode for 10 s;
#  3. cargo-fuzz: the decoder and the request handler, 30 s each.
# Expected duration: ~2 min warm, up to ~10 min cold (building the fuzz targets).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tests/lib/deps.sh xenstore
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d /tmp/rxl-xenstore.XXXXXX)
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

tests/lib/debs.sh tests/deps/xenstore.debs "$work/debs" >/dev/null
export RXL_TEST_XENSTORE=$work/debs/usr/lib/xen-4.17/bin/test-xenstore
[ -x "$RXL_TEST_XENSTORE" ] || { echo "FAIL: test-xenstore missing from xen-utils-4.17"; exit 1; }

echo "== 1. conformance, client and adversarial tests, under each event loop of rxenstored"
# auto = io_uring where the kernel offers it (the daemon logs which); epoll = the fallback.
for io_loop in auto epoll; do
  echo "-- RXENSTORED_IO_LOOP=$io_loop"
  RXENSTORED_IO_LOOP=$io_loop cargo test -p rxl-xenstore --locked --test xenstore_utils --test client \
    --test adversarial --test ring 2>&1
done
echo "-- live update (each case names its event loop; Xen's xenstore-control from the unpacked debs)"
cargo test -p rxl-xenstore --locked --test live_update 2>&1

echo "== 2. libxenstore txn_stress and test-xenstore -r against rxenstored"
cargo build -p rxl-xenstore --bins --locked 2>&1 | tail -1
cc -O2 -Wall -Wextra -Werror -o "$work/txn_stress" xenstore/tests/c/txn_stress.c -lxenstore
"$CARGO_TARGET_DIR/debug/rxenstored" --socket "$work/sock" --no-state 2>"$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$work/sock" ] && break; sleep 0.1; done
export XENSTORED_PATH=$work/sock
"$work/txn_stress" 6 300
out=$("$RXL_TEST_XENSTORE" -r 10 2>&1) || { echo "$out"; echo "FAIL: test-xenstore -r exit status"; exit 1; }
if grep -q failed <<<"$out"; then echo "$out"; echo "FAIL: test-xenstore -r reported failures"; exit 1; fi
echo "test-xenstore -r 10: no failures"
unset XENSTORED_PATH
kill -TERM "$daemon_pid"; wait "$daemon_pid"; daemon_pid=

echo "== 3. fuzzing (decoder and request handler, 30 s each)"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for t in decode handler; do
  # The grown corpus stays local (it is git-ignored); a fresh clone starts from an empty one.
  mkdir -p "$work/corpus-$t"
  if [ -d "xenstore/fuzz/corpus/$t" ]; then cp -r "xenstore/fuzz/corpus/$t/." "$work/corpus-$t/"; fi
  # Build first: a build failure must not pass for a crash the fuzzer found.
  if ! (cd xenstore/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build --target-dir "$CARGO_TARGET_DIR/fuzz" "$t") \
      > "$work/build-$t.log" 2>&1; then
    echo "FAIL: fuzz target $t did not build:"; tail -30 "$work/build-$t.log"; exit 1
  fi
  if ! (cd xenstore/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --target-dir "$CARGO_TARGET_DIR/fuzz" "$t" "$work/corpus-$t" \
      -- -max_total_time=30 -artifact_prefix="$work/") > "$work/run-$t.log" 2>&1; then
    echo "FAIL: fuzz target $t found a crash:"
    grep -E "panicked|ERROR|SUMMARY|Test unit written" "$work/run-$t.log" | head -20
    # The artifacts go with $work: print each crashing input so CI's output can reproduce it.
    for a in "$work"/crash-* "$work"/oom-* "$work"/timeout-*; do
      [ -f "$a" ] && { echo "input $(basename "$a") (hex):"; od -An -tx1 -v "$a" | head -40; }
    done
    exit 1
  fi
  grep -E "^(Done|INFO: -max_total_time)" "$work/run-$t.log" || true
done
echo "xenstore suite: all parts passed"
