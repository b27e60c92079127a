#!/bin/sh
# Runs each test program given as an argument, under $VALGRIND when it is set (make test-c sets it
# to memcheck with --error-exitcode=1 and --errors-for-leak-kinds=definite), and fails when any
# fails. Meant to run inside tests/c/run.sh, which provides the devserver.
#
#   tests/c/run_tests.sh PROGRAM [PROGRAM...]
#   A PROGRAM may carry arguments: "build-c/poll_loop hello" (split on spaces).
set -u
here=$(cd "$(dirname "$0")" && pwd)
supp=
[ -s "$here/valgrind.supp" ] && supp="--suppressions=$here/valgrind.supp"
failed=
for prog in "$@"; do
    echo "---- ${VALGRIND:+valgrind: }$prog"
    # shellcheck disable=SC2086 # VALGRIND and prog are meant to split into words
    case $prog in
    *.sh*)
        # a script runs its programs itself, under $VALGRIND
        VALGRIND="${VALGRIND:+$VALGRIND $supp}" sh $prog ;;
    *)
    if [ -n "${VALGRIND:-}" ]; then
        $VALGRIND $supp $prog
    else
        $prog
    fi ;;
    esac
    status=$?
    if [ $status -ne 0 ]; then
        echo "---- FAILED ($status): $prog"
        failed="$failed
  $prog"
    fi
done
if [ -n "$failed" ]; then
    echo "C tests failed:$failed"
    exit 1
fi
echo "C tests: all $# programs passed${VALGRIND:+ under valgrind (no errors, no definite leaks)}"
