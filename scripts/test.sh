#!/usr/bin/env bash
# The test command: build the connector plugins, then run every test of the workspace
# (unit tests, the SDK examples, and the one integration binary that loads the real plugins).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The connector plugins the integration tests load (the harness builds them too, if missing).
cargo build -p ecma-sql-connector -p ecma-faulty-connector -p ecma-wrong-api-major-plugin -p ecma-panicking-init-plugin
cargo test --workspace "$@"
