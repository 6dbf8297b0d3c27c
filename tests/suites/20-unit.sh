#!/usr/bin/env bash
# Unit and integration tests of every crate (cargo test prints its own "test result" lines).
set -euo pipefail
cargo test --workspace --locked 2>&1
