#!/usr/bin/env bash
# The test command: build the workspace, the connector plugins included (the integration tests
# depend on them) and the ecmahost executable (the command-line tests run it), then run every test: unit tests, doc examples, and the one integration binary
# that loads the real plugins. The compatibility tests also build tests/fixtures/api-1.0 (a
# separate workspace: the frozen API 1.0 crate) into target/api-1.0, once per run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The command-line tests run the `ecmahost` executable, which cargo builds only for the host's
# own tests: build it first.
cargo build -p ecmahost --bin ecmahost
cargo test --workspace "$@"
