#!/bin/bash
# Regenerates toolstack/xen-sys/src/generated.rs from the installed Xen headers (libxen-dev).
set -euo pipefail
cd "$(dirname "$0")/../../.."
XEN_SYS_BLESS=1 cargo test -p xen-sys --test regenerate
echo "regenerated toolstack/xen-sys/src/generated.rs (libxen-dev $(dpkg-query -W -f='${Version}' libxen-dev))"
