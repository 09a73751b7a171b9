#!/usr/bin/env bash
# The web services demo, as docs/webservices.md walks through it: the example services
# (`ecma-demo-ws`: a REST People API over HTTPS with OAuth2 client credentials, and a SOAP user
# service in SAP's BAPI pattern with WS-Security and its WSDL, each with five sample people) on
# 127.0.0.1; the example projects copied to ws-demo/projects/ and extended by discovery from
# the running services (`ws discover`, `ws add-rest`, `ws check`); one `ws test` flow each;
# then the demo host serving connectors `people` (REST) and `sap` (SOAP) next to the SQL demo,
# with curl commands for a SCIM round trip. Ctrl-C stops the host and the services.
# Options: --dir DIR (default ./ws-demo, reused), --rest-port N (8588), --soap-port N (8589),
# --address A (the host's, default 127.0.0.1); the rest goes to `ecmahost demo` (for example
# --port 9443).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -p ecmahost -p ecma-sql-connector -p ecma-webservices-connector \
    -p ecma-test-ws-services --bins --lib

dir=ws-demo
port=8585
rest_port=8588
soap_port=8589
address=127.0.0.1
rest=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) dir="$2"; shift 2 ;;
        --port) port="$2"; rest+=("$1" "$2"); shift 2 ;;
        --rest-port) rest_port="$2"; shift 2 ;;
        --soap-port) soap_port="$2"; shift 2 ;;
        --address) address="$2"; shift 2 ;;
        *) rest+=("$1"); shift ;;
    esac
done
mkdir -p "$dir/connectors" "$dir/ECMA" "$dir/secrets" "$dir/projects"
dir="$(cd "$dir" && pwd)"
bin="$(pwd)/target/release"

# Every process this script starts is stopped when it ends, however it ends.
pids=()
stop_all() {
    # The host first, then the services it talks to.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
    done
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== the example services (ecma-demo-ws)"
"$bin/ecma-demo-ws" --dir "$dir/service" --rest-port "$rest_port" --soap-port "$soap_port" &
pids+=($!)
for _ in $(seq 1 150); do
    [ -s "$dir/service/service.env" ] && break
    kill -0 "${pids[0]}" 2>/dev/null || { echo "error: ecma-demo-ws stopped (see above)" >&2; exit 1; }
    sleep 0.2
done
if [ ! -s "$dir/service/service.env" ]; then
    echo "error: ecma-demo-ws did not start within 30 s" >&2
    exit 1
fi
# shellcheck disable=SC1091
source "$dir/service/service.env"

ws() { echo "\$ ecmahost ws $*"; "$bin/ecmahost" ws "$@"; }

echo "== discovery into copies of the example projects"
cp plugins/webservices/examples/rest-users/project.toml "$dir/projects/people.toml"
cp plugins/webservices/examples/soap-users/project.toml "$dir/projects/sap.toml"
ws discover --wsdl "$SOAP_WSDL" --project "$dir/projects/sap.toml"
ws add-rest --project "$dir/projects/people.toml" --name get_user --method GET \
    --path '/api/users/{id}' --param id:path:required
ws check --project "$dir/projects/people.toml"
ws check --project "$dir/projects/sap.toml"

echo "== the connector files"
token_file="$dir/secrets/ws.token"
if [ ! -s "$token_file" ]; then
    "$bin/ecmahost" token generate | sed -n 's/^token: *//p' > "$token_file"
    chmod 600 "$token_file"
fi
token="$(cat "$token_file")"
hash="$(printf '%s' "$token" | "$bin/ecmahost" token hash | sed -n 's/^token_hash = //p')"
hash="${hash//\"/}"
cp "$bin/libecma_webservices.so" "$dir/ECMA/libecma_webservices.so"
sed -e "s|@TOKEN_HASH@|$hash|" -e "s|@PROJECT@|$dir/projects/people.toml|" \
    -e "s|@PORT@|$PEOPLE_PORT|" -e "s|@SECRET_FILE@|$PEOPLE_SECRET_FILE|" \
    -e "s|@CA_FILE@|$PEOPLE_CA_FILE|" \
    plugins/webservices/examples/rest-users/connector.toml > "$dir/connectors/people.toml"
sed -e "s|@TOKEN_HASH@|$hash|" -e "s|@PROJECT@|$dir/projects/sap.toml|" \
    -e "s|@PORT@|$SOAP_PORT|" -e "s|@PASSWORD_FILE@|$SOAP_PASSWORD_FILE|" \
    plugins/webservices/examples/soap-users/connector.toml > "$dir/connectors/sap.toml"
echo "wrote $dir/connectors/people.toml and $dir/connectors/sap.toml"

echo "== one flow of each against the live services"
ws test --connector "$dir/connectors/people.toml" --plugin "$dir/ECMA/libecma_webservices.so" \
    --flow full_import
ws test --connector "$dir/connectors/sap.toml" --plugin "$dir/ECMA/libecma_webservices.so" \
    --flow test_connection

ext="urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User"
scim="https://localhost:$port/ecma2host_people/scim"
cat <<BANNER

== web services demo
REST People API: $PEOPLE_URL/api/users (OAuth2 client ${PEOPLE_CLIENT_ID}, secret in
$PEOPLE_SECRET_FILE); SOAP user service: $SOAP_URL (WSDL: $SOAP_WSDL).

  Tenant URLs:  https://localhost:$port/ecma2host_people/scim (REST)
                https://localhost:$port/ecma2host_sap/scim (SOAP)
  Secret token: $token

A SCIM round trip through the REST connector (create, get, patch, delete):

  TOKEN=\$(cat $token_file)
  curl -s --cacert $dir/tls/cert.pem -H "Authorization: Bearer \$TOKEN" -H "Content-Type: application/scim+json" \\
    -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","$ext"],"userName":"zed","password":"Initial-Passw0rd","$ext":{"displayName":"Zed Example","email":"zed@contoso.example","department":"Research"}}' \\
    $scim/Users
  curl -s --cacert $dir/tls/cert.pem -H "Authorization: Bearer \$TOKEN" $scim/Users/zed
  curl -s --cacert $dir/tls/cert.pem -X PATCH -H "Authorization: Bearer \$TOKEN" -H "Content-Type: application/scim+json" \\
    -d '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"$ext:department","value":"Sales"}]}' \\
    $scim/Users/zed
  curl -s --cacert $dir/tls/cert.pem -X DELETE -H "Authorization: Bearer \$TOKEN" $scim/Users/zed

What the People API itself holds (a token from its OAuth2 endpoint, then its users):

  API=\$(curl -s --cacert $PEOPLE_CA_FILE -u "$PEOPLE_CLIENT_ID:\$(cat $PEOPLE_SECRET_FILE)" \\
    -d grant_type=client_credentials $PEOPLE_URL/oauth/token | sed 's/.*"access_token":"\\([^"]*\\)".*/\\1/')
  curl -s --cacert $PEOPLE_CA_FILE -H "Authorization: Bearer \$API" "$PEOPLE_URL/api/users?userName=zed"

The same through SOAP: the tenant URL ecma2host_sap, userName "ZED", attributes FIRSTNAME,
LASTNAME, E_MAIL and DEPARTMENT in the $ext extension.

The demo host follows (Ctrl-C stops it and the services):
BANNER
# In the background, so that a SIGTERM to this script stops it too.
"$bin/ecmahost" demo --dir "$dir" --address "$address" "${rest[@]}" &
pids+=($!)
wait "${pids[1]}"
