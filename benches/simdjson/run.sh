#!/bin/sh
# The decoder benchmark's work in C++ with simdjson On-Demand (issue 12 item 7): builds
# benches/simdjson/decode.cpp against Debian's libsimdjson-dev, runs it on the bytes benches/decode.rs
# decodes, keeps its stdout in build-c/bench-simdjson.txt and, when build-c/bench-decode.txt (the
# tchat run of `make bench`) decoded the same bytes, prints the two side by side and checks that
# they decoded the same records, chunks, controls, turns and assembled bytes.
#
#   sh benches/simdjson/run.sh        (`make bench-simdjson`)
#
# Env: BENCH_OUT_FILE (the .out body to decode; default build-c/bench-out.sse, generated with
# `cargo bench --bench decode -- --write` when missing), SIMDJSON_CXXFLAGS (default -O2 -DNDEBUG:
# no -march, as tchat's generic x86-64 build; simdjson still picks its stage 1 kernel at run time),
# SIMDJSON_PASSES (6, as decode.rs), CXX (c++), CARGO (cargo).
#
# Without libsimdjson-dev, and unable to install it (apt-get, as root), it prints
# `bench-simdjson: skipped (<reason>)` and exits 0. It fails (exit 1) when the build fails, when the
# C++ program fails, or when on the generated stream it decoded other counts than tchat did.

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD="$REPO/build-c"
BIN="$BUILD/bench-simdjson"
LOG="$BUILD/bench-simdjson.txt"
TCHAT_LOG="$BUILD/bench-decode.txt"
IN=${BENCH_OUT_FILE:-}
CXXFLAGS_SJ=${SIMDJSON_CXXFLAGS:--O2 -DNDEBUG}
PASSES=${SIMDJSON_PASSES:-6}
CXX=${CXX:-c++}
CARGO=${CARGO:-cargo}

say() { echo "bench-simdjson: $*"; }
skip() {
  say "skipped ($*)"
  exit 0
}

mkdir -p "$BUILD"

# libsimdjson-dev: installed, or installed now, or skip.
have_simdjson() { dpkg -s libsimdjson-dev >/dev/null 2>&1 && [ -f /usr/include/simdjson.h ]; }
if ! have_simdjson; then
  command -v apt-get >/dev/null 2>&1 || skip "libsimdjson-dev is not installed and there is no apt-get"
  [ "$(id -u)" = 0 ] || skip "libsimdjson-dev is not installed; apt-get install needs root"
  say "installing libsimdjson-dev"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q libsimdjson-dev >"$BUILD/bench-simdjson-apt.log" 2>&1; then
    apt-get update -q >>"$BUILD/bench-simdjson-apt.log" 2>&1
    apt-get install -y -q libsimdjson-dev >>"$BUILD/bench-simdjson-apt.log" 2>&1
  fi
  have_simdjson || skip "libsimdjson-dev could not be installed: see $BUILD/bench-simdjson-apt.log"
fi

# Build when the source or the flags changed.
STAMP="$BIN.flags"
FLAGS="$CXX -std=c++17 $CXXFLAGS_SJ"
if [ ! -x "$BIN" ] || [ "$HERE/decode.cpp" -nt "$BIN" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$FLAGS" ]; then
  LIBS=$(pkg-config --libs simdjson 2>/dev/null || echo -lsimdjson)
  CFLAGS_PC=$(pkg-config --cflags simdjson 2>/dev/null || true)
  echo "nice $FLAGS $CFLAGS_PC -o $BIN $HERE/decode.cpp $LIBS"
  # shellcheck disable=SC2086 # word splitting of the flags is intended
  DESC="$(basename "$CXX") $($CXX -dumpfullversion 2>/dev/null) $CXXFLAGS_SJ"
  nice $FLAGS $CFLAGS_PC -DBENCH_CXXFLAGS="\"$DESC\"" -o "$BIN" "$HERE/decode.cpp" $LIBS ||
    { say "build failed"; exit 1; }
  echo "$FLAGS" >"$STAMP"
fi

# The input: the bytes make bench decodes.
if [ -z "$IN" ]; then
  IN="$BUILD/bench-out.sse"
  if [ ! -f "$IN" ]; then
    say "$IN is missing: generating it with tchat's decoder benchmark (also kept in $TCHAT_LOG)"
    (cd "$REPO" && $CARGO bench --bench decode -- --write "$IN") | tee "$TCHAT_LOG"
  fi
fi
[ -f "$IN" ] || { say "no such file: $IN"; exit 1; }

echo "$BIN --file $IN --passes $PASSES"
"$BIN" --file "$IN" --passes "$PASSES" >"$LOG"
STATUS=$?
cat "$LOG"
[ "$STATUS" = 0 ] || { say "failed (exit $STATUS)"; exit "$STATUS"; }

# Side by side with tchat's run on the same bytes, when there is one.
[ -f "$TCHAT_LOG" ] || exit 0
counts() { sed -n 's/^  \([0-9]* bytes, .*assembled\)$/\1/p' "$1" | head -n 1; }
rate() { sed -n "s/^  $2: \([0-9.]*\) records\/s, \([0-9.]*\) MB\/s.*/\1 \2/p" "$1" | head -n 1; }
T=$(counts "$TCHAT_LOG")
C=$(counts "$LOG")
echo ""
if [ -z "$T" ]; then
  say "no counts in $TCHAT_LOG: not compared"
  exit 0
fi
if [ "${T%% bytes*}" != "${C%% bytes*}" ]; then
  say "$TCHAT_LOG decoded another input (${T%% bytes*} bytes, not ${C%% bytes*}): not compared"
  exit 0
fi
echo "tchat vs C++ simdjson On-Demand, same bytes ($IN):"
LABEL="sse + records + assemble, one core"
set -- $(rate "$TCHAT_LOG" "$LABEL") $(rate "$LOG" "$LABEL")
if [ $# = 4 ]; then
  awk -v tr="$1" -v tm="$2" -v cr="$3" -v cm="$4" 'BEGIN {
    printf "  %-40s %14s %14s\n", "figure", "tchat", "C++ simdjson"
    printf "  %-40s %14.0f %14.0f   C++/tchat %.2fx\n", "sse + records + assemble, records/s", tr, cr, cr / tr
    printf "  %-40s %14.1f %14.1f   C++/tchat %.2fx\n", "sse + records + assemble, MB/s", tm, cm, cm / tm
  }'
fi
if [ "$T" = "$C" ]; then
  echo "  same result: $C"
else
  echo "  RESULTS DIFFER:"
  echo "    tchat: $T"
  echo "    C++:   $C"
  # A captured stream may carry chunk types the C++ assembler does not fold (its `checks` line
  # counts them); on the generated stream a difference is a bug.
  [ -n "${BENCH_OUT_FILE:-}" ] || exit 1
fi
echo "  (two runs one after the other, not interleaved: figures move with the machine's load)"
