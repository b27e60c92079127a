#!/bin/sh
# Runs a test program outside valgrind, with the frame budget it checks then:
# TCHAT_FRAME_BUDGET_US=2000 (tests/c/test_async.c: no frame of a 60 Hz loop spends more than 2 ms
# inside tchat). Timing under valgrind means nothing, so the valgrind run checks behaviour only.
# Meant to run inside tests/c/run.sh (through run_tests.sh, which ignores $VALGRIND for scripts).
#
#   tests/c/native.sh PROGRAM
set -u
TCHAT_FRAME_BUDGET_US=${TCHAT_FRAME_BUDGET_US:-2000} exec "$@"
