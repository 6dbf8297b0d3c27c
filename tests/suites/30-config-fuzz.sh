#!/usr/bin/env bash
# Fuzzes the xl.cfg parser with cargo-fuzz (libFuzzer + AddressSanitizer) for a bounded time
# (RXL_FUZZ_SECONDS, default 60). Any panic or sanitizer report fails the suite and leaves the
# crashing input in toolstack/config/fuzz/artifacts/parse/.
# cargo-fuzz needs nightly flags; only stable Rust is installed, so RUSTC_BOOTSTRAP=1 unlocks them.
# Expected duration: ~6 min on a cold 2-core machine (cargo-fuzz install + sanitizer build), ~70 s
# warm (the build is kept in $RXL_CACHE).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tests/lib/deps.sh base
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "installing cargo-fuzz 0.13.2 (cached in ~/.cargo/bin)"
  cargo install cargo-fuzz --locked --version 0.13.2
fi
# libfuzzer-sys compiles libFuzzer's C++ sources; use clang++ (from base.apt) if there is no c++.
if ! command -v c++ >/dev/null 2>&1; then export CXX=clang++; fi
secs=${RXL_FUZZ_SECONDS:-60}
# Keep the sanitizer build between runs (CI runs on the same machine): ~6 min saved when warm.
export CARGO_TARGET_DIR=${RXL_FUZZ_TARGET_DIR:-${RXL_CACHE:-/var/cache/rxl}/cargo-target-config-fuzz}
mkdir -p "$CARGO_TARGET_DIR"
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cd toolstack/config/fuzz
echo "fuzzing the xl.cfg parser for ${secs}s (seeds: $(ls seeds | wc -l) files)"
if ! RUSTC_BOOTSTRAP=1 cargo fuzz run parse "$corpus" seeds -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -25; then
  echo "FAIL: the parser crashed; reproduce with:"
  echo "  cd toolstack/config/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run parse artifacts/parse/<file>"
  ls -l artifacts/parse 2>/dev/null || true
  exit 1
fi
echo "fuzzing done: no crash in ${secs}s"
