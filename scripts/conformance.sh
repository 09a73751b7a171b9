#!/usr/bin/env bash
# SCIM conformance: run scim2-tester (PyPI `scim2-cli`) against a demo host on 127.0.0.1 and
# fail if any check fails. `--write` also regenerates docs/CONFORMANCE.md from the run.
set -euo pipefail
cd "$(dirname "$0")/.."
write=false
[ "${1:-}" = "--write" ] && write=true

command -v scim2 >/dev/null 2>&1 || python3 -m pip install --quiet scim2-cli
cargo build --quiet -p ecmahost -p ecma-sql-connector

# shellcheck source=scripts/lib/demo-host.sh
. scripts/lib/demo-host.sh
start_demo_host debug
dir=$demo_dir
port=$demo_port

# scim2-tester replaces every readWrite attribute of one resource and expects its id to stay
# (RFC 7643 §3.1). The demo's ids are its anchors (userName, displayName), as in Microsoft's
# ECMA2Host, so with renames on, replacing userName renames the resource under test and the
# tester's next requests miss it. The run therefore turns renames off for the demo connector,
# as an administrator can ("Enable Object Rename" unchecked: `object_rename = false`), which a
# hot reload picks up and which makes userName and displayName immutable in /Schemas.
sed -i 's/^version = 1$/version = 1\nobject_rename = false/' "$dir/connectors/demo.toml"
admin="http://127.0.0.1:$((port + 1))/status"
for _ in $(seq 1 120); do
    curl -fsS "$admin" 2>/dev/null | grep -q '"reloads_ok":[1-9]' && break
    sleep 0.5
done
curl -fsS "$admin" | grep -q '"reloads_ok":[1-9]' || { curl -sS "$admin" >&2; echo "the demo connector did not reload with object_rename = false" >&2; exit 1; }

url="https://localhost:$port/ecma2host_demo/scim"
# The token goes through the environment, not the command line, where others could read it.
SSL_CERT_FILE="$dir/tls/cert.pem" SCIM_CLI_HEADERS="Authorization: Bearer $(cat "$dir/secrets/demo.token")" \
    scim2 --url "$url" test >"$dir/scim2.out" 2>&1 || { cat "$dir/scim2.out"; echo "scim2 failed" >&2; exit 1; }

passed=$(grep -c '^SUCCESS ' "$dir/scim2.out" || true)
failed=$(grep -cE '^(ERROR|CRITICAL) ' "$dir/scim2.out" || true)
echo "scim2-tester: $passed checks passed, $failed failed"
if $write; then
    python3 - "$dir/scim2.out" docs/CONFORMANCE.md "$passed" "$failed" <<'PY'
import sys
out, doc, passed, failed = sys.argv[1:]
rows, current = [], None
for line in open(out, encoding="utf-8"):
    line = line.rstrip("\n")
    head = line.split(" ", 1)
    if head[0] in ("SUCCESS", "ERROR", "CRITICAL", "SKIPPED", "WARNING") and len(head) == 2:
        current = [head[1], head[0], ""]
        rows.append(current)
    elif current is not None and line.startswith("  "):
        detail = line.strip().replace("|", "\\|")
        current[2] = (current[2] + " " + detail).strip()
with open(doc, "w", encoding="utf-8") as f:
    f.write("# SCIM conformance\n\n")
    f.write("Produced by `scripts/conformance.sh --write`, which CI runs without `--write`. The script runs\n")
    f.write("[scim2-tester](https://scim2-cli.readthedocs.io) (`scim2 --url URL test`, from the PyPI package\n")
    f.write("`scim2-cli`) against the demo host: connector `demo`, SQLite `Employees`, `Groups` and\n")
    f.write("`GroupMembers` through the generic SQL connector, exposed as the resource types `User` and\n")
    f.write("`Group` (members are references to users). Every row below is one check of that run, with\n")
    f.write("scim2-tester's own message. The run turns the demo's renames off (`object_rename = false`,\n")
    f.write("picked up by a hot reload): scim2-tester replaces every readWrite attribute of one resource\n")
    f.write("and expects its id to stay, but the demo's ids are its anchors (`userName`, `displayName`), as\n")
    f.write("in Microsoft's ECMA2Host, so replacing `userName` would rename the resource under test.")
    skipped = sum(1 for r in rows if r[1] == "SKIPPED")
    if skipped:
        f.write(f" {skipped} checks did not apply; their rows give scim2-tester's reason.\n\n")
    else:
        f.write(" Every check applied: none was skipped.\n\n")
    f.write(f"**Result: {passed} checks passed, {failed} failed.**\n\n")
    f.write("| # | check | result | detail |\n|---:|---|---|---|\n")
    for i, (name, result, detail) in enumerate(rows, 1):
        # Random ids and values differ per run; keep the message short and stable.
        f.write(f"| {i} | `{name}` | {result} | {detail} |\n")
PY
    echo "wrote docs/CONFORMANCE.md"
fi
if [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
    grep -E -A3 '^(ERROR|CRITICAL) ' "$dir/scim2.out" >&2 || true
    exit 1
fi
