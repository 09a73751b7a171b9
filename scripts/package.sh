#!/usr/bin/env bash
# Build the .deb (cargo-deb, installed by scripts/setup.sh) into target/debian/: the ecmahost
# binary, the SQL connector, the systemd unit, an example host.toml, shell completions and the
# docs (the asset list is [package.metadata.deb] in host/Cargo.toml).
#
# PROFILE=release (the default) builds what to ship. PROFILE=debug is CI's: it packages the
# test build's binaries, so that checking the package costs no second build of the workspace.
# cargo-deb reads binaries from <target dir>/release, so it is given a target dir whose
# `release` is the debug folder.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-release}"
case "$profile" in
    release)
        cargo build --release -p ecmahost -p ecma-sql-connector
        bin=target/release
        deb_target=target
        deb_flags=()
        ;;
    debug)
        cargo build -p ecmahost -p ecma-sql-connector
        bin=target/debug
        deb_target=target/deb-from-debug
        mkdir -p "$deb_target"
        ln -sfn "$(pwd)/target/debug" "$deb_target/release"
        # Unoptimised binaries are large: strip them and compress fast, or xz takes minutes.
        deb_flags=(--strip --fast)
        ;;
    *)
        echo "PROFILE must be release or debug, not $profile" >&2
        exit 2
        ;;
esac
# Completions beside the binaries, where cargo-deb resolves `target/release/` assets.
mkdir -p "$bin/completions"
"$bin/ecmahost" completions bash >"$bin/completions/ecmahost.bash"
"$bin/ecmahost" completions zsh >"$bin/completions/_ecmahost"
"$bin/ecmahost" completions fish >"$bin/completions/ecmahost.fish"
mkdir -p target/debian
CARGO_TARGET_DIR="$deb_target" cargo deb -p ecmahost --no-build "${deb_flags[@]}" --output target/debian/
ls -l target/debian/*.deb
