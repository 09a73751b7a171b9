#!/usr/bin/env bash
# Build the .deb (cargo-deb, installed by scripts/setup.sh) into target/debian/: the ecmahost
# binary, the SQL, LDAP and web services connectors, the systemd unit, an example host.toml,
# shell completions, the guides and examples (the asset list is [package.metadata.deb] in
# host/Cargo.toml); then unpack it and check that what it installs runs.
#
# PROFILE=release (the default) builds what to ship. PROFILE=debug is CI's: it packages the
# test build's binaries, so that checking the package costs no second build of the workspace.
# cargo-deb reads binaries from <target dir>/release, so it is given a target dir whose
# `release` is the debug folder.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-release}"
plugins=(-p ecma-sql-connector -p ecma-ldap-connector -p ecma-webservices-connector)
case "$profile" in
    release)
        cargo build --release -p ecmahost "${plugins[@]}"
        bin=target/release
        deb_target=target
        deb_flags=()
        ;;
    debug)
        cargo build -p ecmahost "${plugins[@]}"
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
deb=$(ls -t target/debian/ecmahost_*.deb | head -n 1)
ls -l "$deb"

# What the package installs, unpacked into a temp folder: every file is there, the binary
# runs, and it loads each connector library it ships.
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$root/DEBIAN"
for file in usr/bin/ecmahost usr/lib/ecmahost/libecma_sql.so usr/lib/ecmahost/libecma_ldap.so \
    usr/lib/ecmahost/libecma_webservices.so etc/ecmahost/host.toml \
    usr/share/doc/ecmahost/operations.md usr/share/doc/ecmahost/ldap.md \
    usr/share/doc/ecmahost/webservices.md usr/share/bash-completion/completions/ecmahost \
    DEBIAN/postinst DEBIAN/conffiles; do
    [ -e "$root/$file" ] || { echo "package.sh: $deb lacks /$file" >&2; exit 1; }
done
unit=$(find "$root" -name ecmahost.service -path '*systemd/system*' | head -n 1)
[ -n "$unit" ] || { echo "package.sh: $deb lacks the systemd unit" >&2; exit 1; }
grep -q '^ProtectSystem=strict' "$unit" || { echo "package.sh: the unit is not hardened" >&2; exit 1; }
grep -qx '/etc/ecmahost/host.toml' "$root/DEBIAN/conffiles" || {
    echo "package.sh: host.toml is not a conffile" >&2
    exit 1
}
"$root/usr/bin/ecmahost" --version
for library in "$root"/usr/lib/ecmahost/*.so; do
    "$root/usr/bin/ecmahost" plugin inspect "$library" >"$root/inspect.txt" || {
        echo "package.sh: the packaged binary cannot load $(basename "$library")" >&2
        exit 1
    }
    echo "loads $(basename "$library"): $(grep -m1 "^name:" "$root/inspect.txt")"
done
echo "package.sh: $deb installs the host, its unit and its connectors"
