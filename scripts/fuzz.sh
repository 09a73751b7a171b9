#!/usr/bin/env bash
# Fuzz every target with cargo-fuzz on the nightly toolchain. `scripts/fuzz.sh` runs each for
# SECONDS (default 10: the smoke CI runs); `scripts/fuzz.sh 0 1000000` runs 10^6 executions
# each instead. Inputs found go to fuzz/work/{target}/ (not committed), seeded from
# fuzz/corpus/{target}/; a crash is left in fuzz/artifacts/ and fails the script: fix it and add
# the input to fuzz/corpus/{target}/, which the stable test replays. Installs cargo-fuzz from crates.io when it is missing.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-10}"
runs="${2:-0}"
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz.sh: no nightly toolchain (rustup toolchain install nightly); the stable corpus test still runs in cargo test" >&2
    exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
for target in filter patch search connector_toml mapping bulk ldap_dn ws_project ms_import; do
    args=(-max_len=4096)
    if [ "$runs" -gt 0 ]; then args+=(-runs="$runs"); else args+=(-max_total_time="$seconds"); fi
    echo "== $target (${args[*]})"
    mkdir -p "work/$target"
    cargo +nightly fuzz run "$target" "work/$target" "corpus/$target" -- "${args[@]}"
done
