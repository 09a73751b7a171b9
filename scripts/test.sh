#!/usr/bin/env bash
# The test command: build the connector plugins, then run every test of the workspace
# (unit tests, the SDK examples, and the one integration binary that loads the real plugins).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build -p ecma-sql-connector -p ecma-faulty-connector
cargo test --workspace "$@"
