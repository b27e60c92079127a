#!/bin/sh
# The C tests under AddressSanitizer (+ LeakSanitizer): libtchat built by nightly Rust with
# -Zsanitizer=address, each C test and example built with -fsanitize=address against it, all run
# through tests/c/run.sh (a devserver on a free port) with ASAN_OPTIONS=detect_leaks=1.
#
#   tests/sanitize/asan_c.sh
#
# Skips (exit 0, with a message) when `cargo +nightly` is missing or the host is not x86_64 Linux.
# Environment knobs:
#   ASAN_TARGET_DIR   cargo target dir of the sanitized build (default target/asan: the normal
#                     target/ is left alone)
#   ASAN_BUILD_STD=1  also instrument std (-Zbuild-std; needs the nightly rust-src component).
#                     Off by default: it adds a std build and found nothing more here.
#   CC                the C compiler (default cc; gcc and clang both work: the instrumentation of
#                     both speaks ASan ABI v8, and the runtime is the C compiler's)
#   TCHAT_DEVSERVER   as for tests/c/run.sh (default target/release/tchat-devserver, built with
#                     the normal toolchain when missing)
#
# Suppressions: tests/sanitize/lsan.supp (LeakSanitizer), documented there.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root" || exit 2
triple=x86_64-unknown-linux-gnu
CC=${CC:-cc}

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    echo "asan: skipped (x86_64 Linux only)"
    exit 0
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "asan: skipped (no nightly toolchain: rustup toolchain install nightly)"
    exit 0
fi

target_dir=${ASAN_TARGET_DIR:-$root/target/asan}
lib_dir=$target_dir/$triple/release
out=$target_dir/c
mkdir -p "$out"

build_std=
if [ "${ASAN_BUILD_STD:-0}" = 1 ]; then
    sysroot=$(rustc +nightly --print sysroot)
    if [ ! -d "$sysroot/lib/rustlib/src/rust/library" ]; then
        echo "asan: ASAN_BUILD_STD=1 needs rust-src (rustup component add rust-src --toolchain nightly)"
        exit 2
    fi
    build_std=-Zbuild-std
fi

echo "asan: building libtchat with -Zsanitizer=address ${build_std:+($build_std) }into $target_dir"
# --target keeps RUSTFLAGS off build scripts and proc macros (they run on the host, unsanitized).
# shellcheck disable=SC2086 # build_std is empty or one flag
RUSTFLAGS="${RUSTFLAGS:-} -Zsanitizer=address" CARGO_TARGET_DIR=$target_dir \
    cargo +nightly build --release --lib --target $triple $build_std || exit 1
# The programs below load libtchat by its SONAME (build.rs: libtchat.so.<major>), as `make build`
# links it in target/release.
soname=$(readelf -d "$lib_dir/libtchat.so" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[ -z "$soname" ] || ln -sf libtchat.so "$lib_dir/$soname" || exit 1

devserver=${TCHAT_DEVSERVER:-$root/target/release/tchat-devserver}
if [ ! -x "$devserver" ]; then
    echo "asan: building the devserver (normal toolchain)"
    cargo build --release -p tchat-devserver || exit 1
fi
export TCHAT_DEVSERVER="$devserver"

cflags="-std=c99 -Wall -Wextra -Werror -pedantic -g -O1 -fsanitize=address -fno-omit-frame-pointer"
link="-L$lib_dir -ltchat -lpthread -Wl,-rpath,$lib_dir"
progs=
for t in test_api test_chat test_threads test_events test_edges; do
    echo "  CC  tests/c/$t.c -> $out/$t (ASan)"
    # shellcheck disable=SC2086
    $CC $cflags -Iinclude "tests/c/$t.c" -o "$out/$t" $link || exit 1
    progs="$progs $out/$t"
done
echo "  CC  tests/c/asan_selfcheck.c -> $out/asan_selfcheck (ASan)"
# shellcheck disable=SC2086
$CC $cflags -Iinclude tests/c/asan_selfcheck.c -o "$out/asan_selfcheck" $link || exit 1
for e in chat poll_loop; do
    echo "  CC  examples-c/$e.c -> $out/$e (ASan)"
    # shellcheck disable=SC2086
    $CC $cflags -Iinclude "examples-c/$e.c" -o "$out/$e" $link || exit 1
done

# detect_leaks: LeakSanitizer at exit. detect_stack_use_after_return: fake stacks, so a pointer to
# a dead frame is caught. exitcode=23: a report (ASan or LSan) fails the program with status 23.
ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_string_checks=1:halt_on_error=1:exitcode=23${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS LSAN_OPTIONS

# First make sure the sanitizers are really there: each deliberate mistake must be reported (a
# compiler or library without ASan would otherwise make every run "clean").
for mode in use-after-free overflow leak; do
    "$out/asan_selfcheck" $mode >"$out/selfcheck-$mode.log" 2>&1
    status=$?
    if [ $status -ne 23 ] || ! grep -q "Sanitizer" "$out/selfcheck-$mode.log"; then
        echo "asan: the self-check '$mode' was not caught (exit $status): the build is not sanitized"
        cat "$out/selfcheck-$mode.log"
        exit 1
    fi
done
echo "asan: self-check: a use after free, an overflow and a leak inside libtchat are all reported"

# The same programs as `make test-c` runs under valgrind (minus the static and C++ builds, which
# test linking, not memory), with VALGRIND empty: ASan and valgrind do not mix. Each program gets a
# devserver of its own, so that a report names the program that made it and no program depends on
# what an earlier one left on the server.
failed=
for prog in $progs "$out/poll_loop hello" "tests/c/chat_smoke.sh $out"; do
    VALGRIND= "$root/tests/c/run.sh" "$root/tests/c/run_tests.sh" "$prog" || failed="$failed
  $prog"
done
if [ -z "$failed" ]; then
    echo "asan: C tests clean under AddressSanitizer and LeakSanitizer"
    exit 0
fi
echo "asan: FAILED (see the reports above):$failed"
exit 1
