#!/usr/bin/env bash
# Build the .deb (cargo-deb, installed by scripts/setup.sh): the ecmahost binary, the SQL
# connector, the systemd unit, an example host.toml, shell completions and the docs.
# PROFILE=dev (CI's default, fast: it reuses the test build) or PROFILE=release (what to ship).
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-release}"
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
cargo build --profile "$profile" -p ecmahost -p ecma-sql-connector
mkdir -p target/completions
for shell in bash zsh fish; do
    case $shell in
        bash) file=ecmahost.bash ;;
        zsh) file=_ecmahost ;;
        fish) file=ecmahost.fish ;;
    esac
    "target/$dir/ecmahost" completions "$shell" >"target/completions/$file"
done
cargo deb -p ecmahost --no-build --profile "$profile" --output target/debian/
ls -l target/debian/*.deb
