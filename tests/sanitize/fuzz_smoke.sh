#!/bin/sh
# A short run of each fuzz target in fuzz/ (cargo-fuzz layout): fails on any finding (a crash, a
# panic, a leak, a timeout of one input, running out of memory).
#
#   tests/sanitize/fuzz_smoke.sh
#
# Needs `cargo +nightly` and cargo-fuzz (`cargo install cargo-fuzz --locked`); without either it
# prints "fuzz: skipped (nightly or cargo-fuzz missing)" and exits 0. Environment knobs:
#   FUZZ_SECONDS    seconds per target (default 60), libFuzzer's -max_total_time
#   FUZZ_TARGETS    which targets (default: sse records assemble capi)
#   FUZZ_SANITIZER  cargo fuzz --sanitizer: address (default; with LeakSanitizer, which the capi
#                   target needs) or none (about 10x the inputs per second for the pure targets)
#   FUZZ_ARGS       extra libFuzzer flags, e.g. "-runs=1000000" or "-jobs=2 -workers=2"
# Targets are built once, with debug assertions (overflow checks), into fuzz/target/. Each run
# starts from fuzz/corpus/TARGET (kept between runs, git-ignored) and writes what it finds to
# fuzz/artifacts/TARGET/; its full log goes to fuzz/target/smoke/TARGET.log.
# Reproduce a finding: cargo +nightly fuzz run -a TARGET fuzz/artifacts/TARGET/crash-...
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root" || exit 2

seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-sse records assemble capi}
sanitizer=${FUZZ_SANITIZER:-address}

if ! cargo +nightly --version >/dev/null 2>&1 || ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: skipped (nightly or cargo-fuzz missing)"
    exit 0
fi

logs=$root/fuzz/target/smoke
mkdir -p "$logs"
echo "fuzz: building the targets (sanitizer $sanitizer, debug assertions)"
cargo +nightly fuzz build -a -s "$sanitizer" || { echo "fuzz: the targets do not build"; exit 1; }

failed=
for t in $targets; do
    log=$logs/$t.log
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: 2 GiB is a runaway allocation.
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    cargo +nightly fuzz run -a -s "$sanitizer" "$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -detect_leaks=1 \
        -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1
    status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    if [ $status -eq 0 ]; then
        echo "fuzz: $t: ${runs:-?} inputs in ${seconds} s (${rate:-?}/s), no finding"
    else
        echo "fuzz: $t: FINDING (exit $status) after ${runs:-?} inputs; log $log:"
        grep -a -E '^(==[0-9]+==ERROR|SUMMARY|thread .* panicked|artifact_prefix|Test unit written|Base64)' "$log" | head -n 20
        echo "--- last lines:"
        tail -n 40 "$log"
        failed="$failed $t"
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz: findings in:$failed (reproduce: cargo +nightly fuzz run -a TARGET fuzz/artifacts/TARGET/<file>)"
    exit 1
fi
echo "fuzz: all targets ran ${seconds} s each without a finding"
