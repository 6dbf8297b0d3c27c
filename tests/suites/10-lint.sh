#!/usr/bin/env bash
# Formatting and clippy with warnings denied, over the whole workspace and all targets.
set -euo pipefail
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
