#!/usr/bin/env bash
# The LDAP demo: a throwaway OpenLDAP slapd on a free 127.0.0.1 port with five sample people,
# and the demo host serving a connector `ldap` for it (users by employeeNumber, DNs
# uid={uid},ou=people,dc=example,dc=com, groups at /Groups) next to the SQL demo.
# Extra arguments go to `ecmahost demo` (for example --port 9443 or --dir /tmp/demo).
# slapd and its data go away when this script ends.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -p ecmahost -p ecma-sql-connector -p ecma-ldap-connector -p ecma-test-slapd --bins --lib

dir=demo-ldap-data
port=8585
rest=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) dir="$2"; shift 2 ;;
        --port) port="$2"; rest+=("$1" "$2"); shift 2 ;;
        *) rest+=("$1"); shift ;;
    esac
done
mkdir -p "$dir/connectors" "$dir/ECMA" "$dir/secrets"
dir="$(cd "$dir" && pwd)"

info="$(mktemp)"
trap 'rm -f "$info"' EXIT
# slapd lives as long as this script holds its standard input open.
exec {slapd_input}> >(exec target/release/ecma-demo-slapd "$info")
for _ in $(seq 1 100); do
    [ -s "$info" ] && grep -q LDAP_PASSWORD_FILE "$info" && break
    sleep 0.2
done
if ! grep -q LDAP_PASSWORD_FILE "$info"; then
    echo "error: slapd did not start (see the messages above)" >&2
    exit 1
fi
# shellcheck disable=SC1090
source "$info"
cp "$LDAP_PASSWORD_FILE" "$dir/secrets/ldap-admin.password"
chmod 600 "$dir/secrets/ldap-admin.password"

token_file="$dir/secrets/ldap.token"
if [ ! -s "$token_file" ]; then
    target/release/ecmahost token generate | sed -n 's/^token: *//p' > "$token_file"
    chmod 600 "$token_file"
fi
token="$(cat "$token_file")"
hash="$(printf '%s' "$token" | target/release/ecmahost token hash | sed -n 's/^token_hash = //p')"
cp target/release/libecma_ldap.so "$dir/ECMA/libecma_ldap.so"

# The example connector file, filled in for this slapd.
sed -e "s|@TOKEN_HASH@|${hash//\"/}|" -e "s|@PORT@|$LDAP_PORT|" -e "s|@BIND_DN@|$LDAP_ADMIN_DN|" \
    -e "s|@PASSWORD_FILE@|$dir/secrets/ldap-admin.password|" \
    plugins/ldap/examples/openldap.toml > "$dir/connectors/ldap.toml"

ext="urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User"
cat <<BANNER
LDAP demo: slapd on ldap://127.0.0.1:$LDAP_PORT (suffix $LDAP_SUFFIX, bind DN $LDAP_ADMIN_DN,
password in $dir/secrets/ldap-admin.password); it has five sample people.

  Tenant URL:   https://localhost:$port/ecma2host_ldap/scim
  Secret token: $token

  curl -k -H "Authorization: Bearer $token" https://localhost:$port/ecma2host_ldap/scim/Users
  curl -k -H "Authorization: Bearer $token" -H "Content-Type: application/scim+json" \\
    -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","$ext"],"userName":"42","$ext":{"uid":"ada","cn":"Ada Lovelace","sn":"Lovelace"}}' \\
    https://localhost:$port/ecma2host_ldap/scim/Users
  ldapsearch -x -H ldap://127.0.0.1:$LDAP_PORT -D "$LDAP_ADMIN_DN" -y $dir/secrets/ldap-admin.password -b ou=people,$LDAP_SUFFIX uid=ada

The SQL demo follows:
BANNER
target/release/ecmahost demo --dir "$dir" "${rest[@]}"
