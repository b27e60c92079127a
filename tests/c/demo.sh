#!/bin/sh
# The scripted conversation of `make demo`: drives examples-c/chat the way a person at the keyboard
# would. It types the next line only when chat shows its "you> " prompt, and types /stop while a
# slow reply is visibly streaming (once "tick 8" is on the screen). Everything chat prints goes to
# the terminal as it happens. Runs inside tests/c/run.sh, which provides the devserver.
#
#   tests/c/demo.sh PATH/TO/chat
set -u
chat=$1
dir=$(mktemp -d "${TMPDIR:-/tmp}/tchat-demo.XXXXXX")
chat_pid=
cleanup() {
    exec 3>&- 2>/dev/null
    [ -n "$chat_pid" ] && kill "$chat_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
mkfifo "$dir/in"

# chat reads the fifo; its output goes to the terminal and to a file the driver watches (chat_pid
# is tee's: it exits when chat does).
"$chat" <"$dir/in" 2>&1 | tee "$dir/out" &
chat_pid=$!
exec 3>"$dir/in"

fail() {
    echo
    echo "demo: $*" >&2
    exit 1
}

# wait_for COUNT PATTERN: until PATTERN occurs COUNT times in chat's output (30 s at most).
wait_for() {
    i=0
    while [ "$(grep -o -- "$2" "$dir/out" | wc -l)" -lt "$1" ]; do
        kill -0 "$chat_pid" 2>/dev/null || fail "chat exited early"
        i=$((i + 1))
        [ $i -gt 600 ] && fail "timed out waiting for \"$2\""
        sleep 0.05
    done
}

# type LINE: a short human pause, then the line.
type_line() {
    sleep 0.4
    printf '%s\n' "$1" >&3
}

wait_for 1 'you> '; type_line "Hello! What can you do?"
wait_for 2 'you> '; type_line "/tool Paris"
wait_for 3 'you> '; type_line "/approve"
wait_for 4 'you> '; type_line "/slow 40"
wait_for 1 'tick 8'; printf '/stop\n' >&3
wait_for 5 'you> '; type_line "/quit"
exec 3>&-
wait "$chat_pid"
status=$?
chat_pid=
grep -q '(stopped by /stop)' "$dir/out" || fail "the slow reply was not stopped"
grep -q 'The weather in Paris is sunny' "$dir/out" || fail "the tool call was not answered"
exit $status
