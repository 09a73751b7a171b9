#!/usr/bin/env bash
# The test command: build the workspace, the connector plugins included (the integration tests
# depend on them), then run every test: unit tests, doc examples, and the one integration binary
# that loads the real plugins.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --workspace "$@"
