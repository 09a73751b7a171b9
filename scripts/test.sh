#!/usr/bin/env bash
# The test command: build the connector plugins, then run every test of the workspace
# (unit tests, the SDK examples, and the one integration binary that loads the real plugins).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Build everything first (the connector plugins included) with the same features the test run
# uses, then run the tests.
cargo test --workspace --no-run
cargo test --workspace "$@"
