#!/usr/bin/env bash
# Footprint of the demo host (issue [I] item 9): its RSS when idle after start, after the first
# request (which runs one Argon2 check), after 22 s idle (5 s after start, the first import
# and its snapshot are done); then, from the same folder, the time
# from exec of `ecmahost serve` to the first answered GET (5 runs).
#   scripts/footprint.sh [PROFILE]
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-release}
if [ "$profile" = release ]; then
    cargo build --quiet --release -p ecmahost -p ecma-sql-connector
else
    cargo build --quiet -p ecmahost -p ecma-sql-connector
fi
# shellcheck source=scripts/lib/demo-host.sh
. scripts/lib/demo-host.sh
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
# Exec to first answer, from the snapshot the demo host left behind.
python3 - "target/$profile/ecmahost" "$demo_dir" "$demo_port" "$token" <<'PY'
import http.client, os, ssl, subprocess, sys, time
exe, folder, port, token = os.path.abspath(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=os.path.join(folder, "tls/cert.pem"))
times = []
for run in range(5):
    log = open(os.path.join(folder, f"serve-{run}.log"), "w")
    start = time.monotonic()
    child = subprocess.Popen([exe, "serve", "--config", os.path.join(folder, "host.toml")], cwd=folder, stdout=log, stderr=log)
    answered = None
    while time.monotonic() - start < 30:
        try:
            c = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=2)
            c.request("GET", "/ecma2host_demo/scim/Users?count=1", headers={"Authorization": f"Bearer {token}"})
            if c.getresponse().status == 200:
                answered = time.monotonic() - start
                break
        except OSError:
            pass
        time.sleep(0.002)
    child.terminate(); child.wait()
    if answered is None:
        sys.exit(f"run {run}: no 200 within 30 s; see {folder}/serve-{run}.log")
    times.append(answered * 1000)
print("exec to first answered GET (ms): " + ", ".join(f"{t:.0f}" for t in times) + f"; median {sorted(times)[2]:.0f}")
PY
