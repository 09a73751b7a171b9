#!/usr/bin/env bash
# Install what building and testing need, skipping what is already there.
set -euo pipefail

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install Rust with rustup (https://rustup.rs) first" >&2
    exit 1
fi
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        rustup component add "$component"
    fi
done
# Every crate links the system's shared libsqlite3, never a bundled copy: two SQLite copies
# in one process break each other's POSIX locks and can corrupt a database (host + plugin, or
# two plugin versions during a reload, on the same file).
missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
dpkg -s libsqlite3-dev >/dev/null 2>&1 || missing+=(libsqlite3-dev)
# libsqlite3-sys generates its bindings to the system header with bindgen, which needs libclang.
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
# The SQL connector's ODBC driver layer links unixODBC's driver manager (odbc-api), and its
# tests connect through Debian's PostgreSQL and MariaDB ODBC drivers to the running servers.
for package in unixodbc-dev odbc-postgresql odbc-mariadb; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}"
fi
# cargo-deb builds the .deb (scripts/package.sh); dpkg-dev's dpkg-shlibdeps works out its
# library dependencies.
command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --locked
