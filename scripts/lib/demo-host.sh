# Sourced by scripts that need a running demo host. `build_demo_binaries PROFILE` builds it;
# `start_demo_host PROFILE` creates a demo folder in a temp dir and starts `target/PROFILE/ecmahost demo` on 127.0.0.1, on a free port
# whose neighbour (the admin listener) is free too, then waits until it serves. It sets
# `demo_dir`, `demo_port` and `demo_pid`, and a trap that stops the host and removes the folder.

# `build_demo_binaries PROFILE`: build the host and the SQL connector (release or debug).
build_demo_binaries() {
    if [ "$1" = release ]; then
        cargo build --quiet --release -p ecmahost -p ecma-sql-connector
    else
        cargo build --quiet -p ecmahost -p ecma-sql-connector
    fi
}

start_demo_host() {
    local profile=$1
    demo_dir=$(mktemp -d)
    demo_port=$(python3 - <<'PY'
import socket
for _ in range(50):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1)); print(p); break
    except OSError:
        pass
    finally:
        a.close(); b.close()
PY
)
    "target/$profile/ecmahost" demo --dir "$demo_dir" --address 127.0.0.1 --port "$demo_port" \
        --plugin "target/$profile/libecma_sql.so" >"$demo_dir/demo.out" 2>"$demo_dir/demo.err" &
    demo_pid=$!
    trap 'kill -TERM $demo_pid 2>/dev/null || true; wait $demo_pid 2>/dev/null || true; rm -rf "$demo_dir"' EXIT
    for _ in $(seq 1 120); do
        grep -q "Press Ctrl-C" "$demo_dir/demo.out" 2>/dev/null && return 0
        if ! kill -0 $demo_pid 2>/dev/null; then
            cat "$demo_dir/demo.err" >&2
            echo "the demo host did not start" >&2
            exit 1
        fi
        sleep 0.5
    done
    cat "$demo_dir/demo.err" >&2
    echo "the demo host did not become ready in 60 s" >&2
    exit 1
}
