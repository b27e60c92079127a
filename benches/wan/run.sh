#!/bin/sh
# The WAN benchmark (issue 11, "first token in one round trip"): the same conversation through
# tchat (examples/wan_client.rs) and through the official AgentChat (benches/wan/official.mjs),
# in one run, over an emulated 50 ms round trip with TLS 1.3 and certificate checks on; prints a
# side-by-side table. See benches/wan/README.md.
#
#   sh benches/wan/run.sh            (as root; `make bench-wan` builds what it needs first)
#
# Three network namespaces, created here and always removed (trap on EXIT/INT/TERM):
#
#   tchatwan-c-PID          tchatwan-r-PID                 tchatwan-s-PID
#   10.77.0.1 tw-c0 <-veth-> tw-c1 [relay] tw-s1 <-veth-> tw-s0 10.77.0.2
#   clients                 delay line (relay.c):          terminator.mjs (TLS 1.3) :8443 tchat
#                           every frame held 25 ms                                   :8444 node
#                           each way, order kept           -> tchat-devserver 127.0.0.1 (plain)
#
# The host's own interfaces and routes are never touched. Without root, network namespaces,
# veth or AF_PACKET it prints `wan bench: skipped (<reason>)` and exits 0.
#
# Env: WAN_TURNS_1S (15), WAN_TURNS_5S (8), WAN_STOPS (5), WAN_RTT_MS (50), WAN_DELTA_DELAY_MS (10),
# WAN_ORDER (tchat,node), WAN_TIMEOUT_S (600: the watchdog for the whole run), WAN_OUT (where the
# raw results are kept: build-c/bench-wan), WAN_TCHAT_CLIENT (the wan_client binary,
# target/release/examples/wan_client), TCHAT_DEVSERVER (target/release/tchat-devserver).

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TURNS_1S=${WAN_TURNS_1S:-15}
TURNS_5S=${WAN_TURNS_5S:-8}
STOPS=${WAN_STOPS:-5}
RTT_MS=${WAN_RTT_MS:-50}
DELTA_DELAY_MS=${WAN_DELTA_DELAY_MS:-10}
ORDER=${WAN_ORDER:-tchat,node}
TIMEOUT_S=${WAN_TIMEOUT_S:-600}
OUT=${WAN_OUT:-$REPO/build-c/bench-wan}
TCHAT_CLIENT=${WAN_TCHAT_CLIENT:-$REPO/target/release/examples/wan_client}
DEVSERVER=${TCHAT_DEVSERVER:-$REPO/target/release/tchat-devserver}
CLIENT_IP=10.77.0.1
SERVER_IP=10.77.0.2
PORT_TCHAT=8443
PORT_NODE=8444
PORT_ECHO=7000

NS_C=tchatwan-c-$$
NS_R=tchatwan-r-$$
NS_S=tchatwan-s-$$
TMP=
WATCHDOG=
CLEANED=

say() { echo "wan bench: $*"; }
skip() {
    say "skipped ($*)"
    exit 0
}
die() {
    say "FAILED: $*" >&2
    exit 1
}

# ─── teardown: every namespace this run made, and every process in them ─────────────────────────
ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }
ns_pids() { ip netns pids "$1" 2>/dev/null; }

kill_ns_procs() { # $1 = signal; the processes inside this run's namespaces (all started here)
    for ns in $NS_C $NS_R $NS_S; do
        if ns_exists "$ns"; then
            pids=$(ns_pids "$ns")
            [ -n "$pids" ] && kill "-$1" $pids 2>/dev/null
        fi
    done
    return 0
}

cleanup() {
    [ -n "$CLEANED" ] && return 0
    CLEANED=1
    [ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
    kill_ns_procs TERM
    i=0
    while [ $i -lt 30 ]; do # up to 3 s for them to go
        left=
        for ns in $NS_C $NS_R $NS_S; do ns_exists "$ns" && [ -n "$(ns_pids "$ns")" ] && left=1; done
        [ -z "$left" ] && break
        sleep 0.1
        i=$((i + 1))
    done
    kill_ns_procs KILL
    for ns in $NS_C $NS_R $NS_S; do
        if ns_exists "$ns"; then
            ip netns del "$ns" 2>/dev/null || say "could not delete namespace $ns" >&2
        fi
    done
    [ -n "$TMP" ] && rm -rf "$TMP"
    return 0
}
trap 'rc=$?; cleanup; exit $rc' EXIT
trap 'say "interrupted"; cleanup; exit 130' INT
trap 'say "terminated (watchdog or signal)"; cleanup; exit 143' TERM

# ─── prerequisites ──────────────────────────────────────────────────────────────────────────────
[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
command -v ip >/dev/null 2>&1 || skip "no ip command (iproute2)"
command -v node >/dev/null 2>&1 || skip "no node"
CC=${CC:-cc}
command -v "$CC" >/dev/null 2>&1 || skip "no C compiler ($CC) for the delay relay"
command -v openssl >/dev/null 2>&1 || skip "no openssl for the benchmark's certificates"
command -v timeout >/dev/null 2>&1 || skip "no timeout command (coreutils)"
[ -x "$DEVSERVER" ] || die "$DEVSERVER is missing: cargo build --release -p tchat-devserver (or make bench-wan)"
[ -x "$TCHAT_CLIENT" ] || die "$TCHAT_CLIENT is missing: cargo build --release --example wan_client -p tchat (or make bench-wan)"
[ -f "$REPO/tests/conformance/node_modules/@trigger.dev/sdk/package.json" ] ||
    die "@trigger.dev/sdk is not installed: (cd tests/conformance && npm ci)"
for n in "$TURNS_1S" "$TURNS_5S" "$STOPS" "$RTT_MS" "$DELTA_DELAY_MS" "$TIMEOUT_S"; do
    case $n in '' | *[!0-9]*) die "WAN_* counts must be whole numbers (got '$n')" ;; esac
done
[ "$TURNS_1S" -ge 2 ] && [ "$TURNS_5S" -ge 2 ] || die "WAN_TURNS_1S and WAN_TURNS_5S must be at least 2"

# Namespaces a killed earlier run left behind (their PID suffix names a process that is gone).
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^tchatwan-[crs]-[0-9]*$'); do
    pid=${ns##*-}
    if ! kill -0 "$pid" 2>/dev/null; then
        for p in $(ns_pids "$ns"); do kill -KILL "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null && say "removed stale namespace $ns"
    fi
done

TMP=$(mktemp -d /tmp/tchatwan.XXXXXX) || die "mktemp"

# The watchdog: the whole run is gone after TIMEOUT_S, whatever hangs.
(
    i=0
    while [ $i -lt "$TIMEOUT_S" ]; do
        sleep 1
        i=$((i + 1))
    done
    echo "wan bench: watchdog: still running after $TIMEOUT_S s, giving up" >&2
    kill -TERM $$ # its trap tears everything down; if it is stuck in a foreground command:
    sleep 3
    kill_ns_procs KILL
) &
WATCHDOG=$!

# ─── the link ───────────────────────────────────────────────────────────────────────────────────
ip netns add "$NS_C" 2>/dev/null || skip "cannot create network namespaces (ip netns add failed)"
ip netns add "$NS_R" || die "ip netns add $NS_R"
ip netns add "$NS_S" || die "ip netns add $NS_S"
for ns in $NS_C $NS_R $NS_S; do
    # No IPv6: nothing but the benchmark's own IPv4 traffic (no DAD, router solicitations) on the link.
    ip netns exec "$ns" sh -c 'for f in /proc/sys/net/ipv6/conf/all/disable_ipv6 /proc/sys/net/ipv6/conf/default/disable_ipv6; do [ -w "$f" ] && echo 1 > "$f"; done; exit 0'
    ip -n "$ns" link set lo up
done
# Both ends of each pair are created inside the namespaces: nothing appears in the host's.
ip link add tw-c0 netns "$NS_C" type veth peer name tw-c1 netns "$NS_R" 2>/dev/null ||
    skip "cannot create veth pairs (no veth support in this kernel?)"
ip link add tw-s0 netns "$NS_S" type veth peer name tw-s1 netns "$NS_R" || die "veth tw-s0/tw-s1"
ip -n "$NS_C" addr add "$CLIENT_IP/24" dev tw-c0
ip -n "$NS_S" addr add "$SERVER_IP/24" dev tw-s0
ip -n "$NS_R" link set tw-c1 up
ip -n "$NS_R" link set tw-s1 up
ip -n "$NS_C" link set tw-c0 up
ip -n "$NS_S" link set tw-s0 up

"$CC" -O2 -Wall -o "$TMP/relay" "$HERE/relay.c" 2>"$TMP/relay-cc.err" || {
    cat "$TMP/relay-cc.err" >&2
    skip "the delay relay does not compile here (needs Linux AF_PACKET headers)"
}
ONE_WAY_US=$((RTT_MS * 1000 / 2))
ip netns exec "$NS_R" "$TMP/relay" tw-c1 tw-s1 "$ONE_WAY_US" "$TMP/relay.json" 2>"$TMP/relay.err" &
RELAY=$!
sleep 0.3
if ! kill -0 "$RELAY" 2>/dev/null; then
    cat "$TMP/relay.err" >&2
    skip "the delay relay cannot run (AF_PACKET raw sockets unavailable?)"
fi

# ─── certificates: a throwaway CA and a server certificate for 10.77.0.2 ────────────────────────
(
    cd "$TMP" &&
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
            -keyout ca.key -out ca.pem -subj "/CN=tchat WAN benchmark CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout server.key -out server.csr -subj "/CN=$SERVER_IP" &&
        printf 'subjectAltName=IP:%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' \
            "$SERVER_IP" >server.ext &&
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -extfile server.ext -out server.pem
) >"$TMP/openssl.log" 2>&1 || {
    cat "$TMP/openssl.log" >&2
    die "certificate generation failed"
}

# ─── the server side: devserver (plain, loopback of the server ns) behind the TLS terminator ────
wait_for_line() { # file pattern seconds: waits until a line of file matches
    i=0
    while [ $i -lt $(($3 * 10)) ]; do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
ip netns exec "$NS_S" "$DEVSERVER" --addr 127.0.0.1:0 --delta-delay-ms "$DELTA_DELAY_MS" \
    --idle-timeout-seconds 600 >"$TMP/devserver.out" 2>"$TMP/devserver.err" &
wait_for_line "$TMP/devserver.out" "listening on" 10 || {
    cat "$TMP/devserver.err" >&2
    die "the devserver did not start"
}
UPSTREAM=$(sed -n '1s|^tchat-devserver listening on http://\(127\.0\.0\.1:[0-9]*\)$|\1|p' "$TMP/devserver.out")
[ -n "$UPSTREAM" ] || die "unexpected devserver first line: $(head -n 1 "$TMP/devserver.out")"

ip netns exec "$NS_S" node "$HERE/terminator.mjs" --cert "$TMP/server.pem" --key "$TMP/server.key" \
    --host "$SERVER_IP" --listen "tchat=$PORT_TCHAT,node=$PORT_NODE" --echo "$PORT_ECHO" \
    --upstream "$UPSTREAM" --log "$TMP/terminator.jsonl" >"$TMP/terminator.out" 2>"$TMP/terminator.err" &
wait_for_line "$TMP/terminator.out" "terminator ready" 15 || {
    cat "$TMP/terminator.err" >&2
    die "the TLS terminator did not start"
}

# ─── the link check: RTT and jitter, before the clients ─────────────────────────────────────────
probe() { # $1 = output file
    timeout -k 5 60 ip netns exec "$NS_C" node "$HERE/probe.mjs" --host "$SERVER_IP" --port "$PORT_ECHO" --n 40 >"$1" 2>"$1.err" &
    wait $! || {
        cat "$1.err" >&2
        die "the link probe failed (is the relay forwarding?)"
    }
}
cat /proc/loadavg >"$TMP/loadavg-before.txt" 2>/dev/null
probe "$TMP/probe-before.json"
say "link: $(node -e 'const p=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log(`TCP connect p50 ${p.connect.p50} ms (min ${p.connect.min}, max ${p.connect.max}, sd ${p.connect.sd}); echo p50 ${p.echo.p50} ms (sd ${p.echo.sd}); ${p.bulk.bytes >> 20} MiB echoed in ${p.bulk.ms} ms`)' "$TMP/probe-before.json")"

# ─── the clients, one after the other, in the client namespace ──────────────────────────────────
CLIENT_TIMEOUT=$((TIMEOUT_S > 90 ? TIMEOUT_S - 60 : 30))
run_client() { # $1 = tchat | node
    case $1 in
    tchat)
        say "tchat: $TURNS_1S turns 1 s apart, $TURNS_5S turns 5 s apart, $STOPS stops (https://$SERVER_IP:$PORT_TCHAT)"
        WAN_URL="https://$SERVER_IP:$PORT_TCHAT" WAN_CA_PEM="$TMP/ca.pem" WAN_TURNS_1S=$TURNS_1S \
            WAN_TURNS_5S=$TURNS_5S WAN_STOPS=$STOPS \
            timeout -k 5 "$CLIENT_TIMEOUT" ip netns exec "$NS_C" "$TCHAT_CLIENT" >"$TMP/tchat.jsonl" 2>"$TMP/tchat.err" &
        ;;
    node)
        say "official AgentChat: the same conversation (https://$SERVER_IP:$PORT_NODE)"
        NODE_EXTRA_CA_CERTS="$TMP/ca.pem" WAN_URL="https://$SERVER_IP:$PORT_NODE" WAN_CA_PEM="$TMP/ca.pem" \
            WAN_TURNS_1S=$TURNS_1S WAN_TURNS_5S=$TURNS_5S WAN_STOPS=$STOPS \
            timeout -k 5 "$CLIENT_TIMEOUT" ip netns exec "$NS_C" node "$HERE/official.mjs" >"$TMP/node.jsonl" 2>"$TMP/node.err" &
        ;;
    *) die "WAN_ORDER: unknown client '$1' (tchat, node)" ;;
    esac
    if wait $!; then
        return 0
    fi
    say "$1 client failed; its stderr:" >&2
    tail -n 20 "$TMP/$1.err" >&2
    echo "$1" >>"$TMP/failed"
    return 0
}
for c in $(echo "$ORDER" | tr ',' ' '); do
    run_client "$c"
done

probe "$TMP/probe-after.json"
kill -TERM "$RELAY" 2>/dev/null
i=0
while [ ! -s "$TMP/relay.json" ] && [ $i -lt 30 ]; do
    sleep 0.1
    i=$((i + 1))
done

# ─── the table; the raw results are kept in $OUT ────────────────────────────────────────────────
mkdir -p "$OUT"
rm -f "$OUT"/*.jsonl "$OUT"/*.json "$OUT"/*.err "$OUT"/report.txt
rm -f "$OUT"/loadavg-before.txt
cp "$TMP"/*.jsonl "$TMP"/probe-*.json "$TMP"/loadavg-before.txt "$OUT"/ 2>/dev/null
cp "$TMP/relay.json" "$TMP/tchat.err" "$TMP/node.err" "$TMP/devserver.err" "$TMP/terminator.err" "$OUT"/ 2>/dev/null
WAN_NPROC=$(nproc 2>/dev/null || echo "?") node "$HERE/report.mjs" --dir "$OUT" --rtt-ms "$RTT_MS" --delta-delay-ms "$DELTA_DELAY_MS" \
    --turns-1s "$TURNS_1S" --turns-5s "$TURNS_5S" --stops "$STOPS" --order "$ORDER" >"$OUT/report.txt"
report_rc=$?
cat "$OUT/report.txt"
say "raw results in $OUT"
if [ -s "$TMP/failed" ]; then
    die "client(s) failed: $(tr '\n' ' ' <"$TMP/failed")"
fi
exit $report_rc
