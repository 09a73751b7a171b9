#!/usr/bin/env bash
# Footprint of the demo host (issue [I] item 9): its RSS when idle after start, after the first
# request (which runs one Argon2 check), after 22 s idle (5 s after start, the first import
# and its snapshot are done); then, from the same folder, the time
# from exec of `ecmahost serve` to the first answered GET (5 runs).
#   scripts/footprint.sh [PROFILE]
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-release}
# shellcheck source=scripts/lib/demo-host.sh
. scripts/lib/demo-host.sh
build_demo_binaries "$profile"
start_demo_host "$profile"
rss() { awk '/VmRSS/{print $2 " kB"}' "/proc/$1/status"; }
token=$(grep -o 'Bearer [A-Za-z0-9]*' "$demo_dir/demo.out" | head -1 | cut -d' ' -f2)
url="https://localhost:$demo_port/ecma2host_demo/scim/Users?count=1"
get() { curl -s -o /dev/null -w "%{http_code}" --cacert "$demo_dir/tls/cert.pem" -H "Authorization: Bearer $token" "$url"; }
sleep 5 # the first import and its snapshot are done by then
echo "idle after start:         $(rss $demo_pid)"
echo "first GET: $(get)"
echo "after the first request:  $(rss $demo_pid)"
sleep 22
echo "after 22 s idle:          $(rss $demo_pid)"
kill -TERM "$demo_pid"
wait "$demo_pid" 2>/dev/null || true
# Exec to first answer, from the snapshot the demo host left behind: to the first answer of
# any kind (a GET without a token: 401), and to the first 200 of an authenticated GET, which
# includes the one Argon2 check of the token (tens of milliseconds by design).
python3 - "target/$profile/ecmahost" "$demo_dir" "$demo_port" "$token" <<'PY'
import http.client, os, ssl, subprocess, sys, time
exe, folder, port, token = os.path.abspath(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=os.path.join(folder, "tls/cert.pem"))
def first(headers, want):
    log = open(os.path.join(folder, "serve.log"), "a")
    start = time.monotonic()
    child = subprocess.Popen([exe, "serve", "--config", os.path.join(folder, "host.toml")], cwd=folder, stdout=log, stderr=log)
    try:
        while time.monotonic() - start < 30:
            try:
                c = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=2)
                c.request("GET", "/ecma2host_demo/scim/Users?count=1", headers=headers)
                if c.getresponse().status == want:
                    return (time.monotonic() - start) * 1000
            except OSError:
                pass
            time.sleep(0.002)
        sys.exit(f"no {want} within 30 s; see {folder}/serve.log")
    finally:
        child.terminate(); child.wait()
for name, headers, want in [("first answer (401, no token)", {}, 401),
                            ("first authenticated 200", {"Authorization": f"Bearer {token}"}, 200)]:
    times = sorted(first(headers, want) for _ in range(5))
    print(f"exec to {name} (ms): " + ", ".join(f"{t:.0f}" for t in times) + f"; median {times[2]:.0f}")
PY
