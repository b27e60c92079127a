#!/bin/sh
# Runs a command against a fresh tchat-devserver on a free loopback port, then stops the server
# (also when the command fails or the script is interrupted). Used by `make test-c` and `make demo`.
#
#   tests/c/run.sh COMMAND [ARGS...]
#
# The command sees TRIGGER_API_URL (the server's base URL) and TRIGGER_SECRET_KEY (default
# tr_dev_tchat_local). Environment knobs:
#   TCHAT_DEVSERVER       the server binary (default target/release/tchat-devserver)
#   TCHAT_DEVSERVER_ARGS  extra server flags (default: --delta-delay-ms 1)
# The exit status is the command's.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
server=${TCHAT_DEVSERVER:-$root/target/release/tchat-devserver}
server_args=${TCHAT_DEVSERVER_ARGS:---delta-delay-ms 1}
: "${TRIGGER_SECRET_KEY:=tr_dev_tchat_local}"
export TRIGGER_SECRET_KEY

if [ $# -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi
if [ ! -x "$server" ]; then
    echo "run.sh: $server is missing: build it first (cargo build --release -p tchat-devserver)" >&2
    exit 2
fi

log=$(mktemp "${TMPDIR:-/tmp}/tchat-devserver.XXXXXX")
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
        server_pid=
    fi
    rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck disable=SC2086 # the extra flags are meant to split
"$server" --addr 127.0.0.1:0 --secret-key "$TRIGGER_SECRET_KEY" $server_args >"$log" 2>&1 &
server_pid=$!

# The server's first stdout line is "tchat-devserver listening on http://127.0.0.1:PORT".
url=
i=0
while [ $i -lt 100 ]; do
    url=$(sed -n '1s/^tchat-devserver listening on //p' "$log")
    [ -n "$url" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "run.sh: the devserver exited before listening:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1
    i=$((i + 1))
done
if [ -z "$url" ]; then
    echo "run.sh: the devserver did not start within 10 s:" >&2
    cat "$log" >&2
    exit 1
fi

TRIGGER_API_URL=$url
export TRIGGER_API_URL
"$@"
status=$?
exit $status
