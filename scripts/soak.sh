#!/usr/bin/env bash
# Soak: a demo host under a steady mix of GET by filter, POST, PATCH and DELETE
# (`ecmahost bench --soak`), with its RSS sampled; fails if any answer was not the expected one.
#   scripts/soak.sh [SECONDS] [RATE] [PROFILE]
# The full run (docs/RELIABILITY.md): scripts/soak.sh 600 1000 release. CI runs a short one
# with the test build: scripts/soak.sh 20 200 debug.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
rate=${2:-1000}
profile=${3:-release}
# shellcheck source=scripts/lib/demo-host.sh
. scripts/lib/demo-host.sh
build_demo_binaries "$profile"
start_demo_host "$profile"
"target/$profile/ecmahost" bench --dir "$demo_dir" --port "$demo_port" --soak \
    --rate "$rate" --seconds "$seconds" --clients 16 --pid "$demo_pid"
