#!/usr/bin/env bash
# Quick start: build the host and the SQL connector, then create and serve the demo
# (HTTPS on port 8585, connector "demo" over an embedded SQLite database in ./demo-data).
# Extra arguments go to `ecmahost demo` (for example --port 9443 or --dir /tmp/demo).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -p ecma-sql-connector -p ecmahost
exec target/release/ecmahost demo "$@"
