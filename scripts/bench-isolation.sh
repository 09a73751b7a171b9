#!/usr/bin/env bash
# The cost of `isolation = "process"`: `ecmahost bench` (GET by filter, POST) against the demo
# host with its library in process, then again after the demo connector file switches to
# `isolation = "process"` (a hot reload), in the same run. docs/BENCHMARKS.md records it.
#   scripts/bench-isolation.sh [SECONDS] [CLIENTS] [PROFILE]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
clients=${2:-32}
profile=${3:-release}
# shellcheck source=scripts/lib/demo-host.sh
. scripts/lib/demo-host.sh
build_demo_binaries "$profile"
start_demo_host "$profile"
bench() {
    "target/$profile/ecmahost" bench --dir "$demo_dir" --port "$demo_port" \
        --seconds "$seconds" --clients "$clients"
}
echo "== in process (the default)"
bench
# A top-level key: it must come before the file's first [table].
sed -i '0,/^name = /s//isolation = "process"\nname = /' "$demo_dir/connectors/demo.toml"
swapped() {
    grep -q "started a connector worker process" "$demo_dir/demo.err" &&
        grep -q "connector reloaded and swapped in" "$demo_dir/demo.err"
}
for _ in $(seq 1 120); do
    swapped && break
    sleep 0.5
done
if ! swapped; then
    echo "the demo connector did not switch to a worker process within 60 s" >&2
    tail -n 20 "$demo_dir/demo.err" >&2
    exit 1
fi
echo "== isolation = \"process\" (worker pid $(pgrep -f "plugin-worker.*$demo_dir" | head -1))"
bench
