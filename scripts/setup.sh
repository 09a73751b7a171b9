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
# The LDAP connector's tests start their own throwaway slapd (testing/slapd/) from Debian's
# packages. No system instance is wanted: debconf is told to skip the initial configuration,
# and a temporary policy-rc.d (unless one exists) forbids starting services during the install.
# A system slapd that already runs is left alone; the tests never use it.
ldap_missing=()
for package in slapd ldap-utils; do
    dpkg -s "$package" >/dev/null 2>&1 || ldap_missing+=("$package")
done
if [ ${#ldap_missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "slapd slapd/no_configuration boolean true" | $sudo debconf-set-selections
    policy=/usr/sbin/policy-rc.d
    own_policy=""
    if [ ! -e "$policy" ]; then
        own_policy=yes
        trap '$sudo rm -f "$policy"' EXIT
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
        $sudo chmod 755 "$policy"
    fi
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${ldap_missing[@]}"
    if [ -n "$own_policy" ]; then
        $sudo rm -f "$policy"
        trap - EXIT
    fi
fi
