#!/bin/sh
# examples-c/chat end to end with piped input (under $VALGRIND when set): one message, /save,
# /quit; then --resume from the saved file and one more message. Checks the transcript.
#   tests/c/chat_smoke.sh BUILD_DIR
set -u
bin=$1/chat
dir=$(mktemp -d "${TMPDIR:-/tmp}/tchat-chat-smoke.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "chat_smoke: $*"; echo "--- transcript:"; cat "$dir/out"; exit 1; }

# shellcheck disable=SC2086
printf 'hello there\n/save %s\n/quit\n' "$dir/state.json" | ${VALGRIND:-} $bin >"$dir/out" 2>&1 || fail "chat exited with $?"
grep -q '^agent> You said: hello there$' "$dir/out" || fail "no reply to the first message"
[ -s "$dir/state.json" ] || fail "/save wrote nothing"

# shellcheck disable=SC2086
printf 'again\n' | ${VALGRIND:-} $bin --resume "$dir/state.json" >"$dir/out" 2>&1 || fail "resumed chat exited with $?"
grep -q '^agent> You said: again$' "$dir/out" || fail "no reply after --resume"
echo "chat_smoke: 1 passed, 0 failed"
