#!/bin/sh
# The README's C quick start, as it is there: extracted from README.md, its devserver URL pointed
# at the test server (TRIGGER_API_URL, an IP literal like the README's), compiled with -Wall -Wextra
# -Werror, and run under the README's own valgrind command
# (`valgrind --leak-check=full --error-exitcode=9`, stricter than the other C tests: "possibly
# lost" fails too). Checks it prints the reply's text and nothing else. Meant to run inside
# tests/c/run.sh.
#
#   tests/c/readme_quickstart.sh BUILD_DIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:?usage: readme_quickstart.sh BUILD_DIR}
src=$build/readme_quickstart.c
bin=$build/readme_quickstart
: "${TRIGGER_API_URL:?run inside tests/c/run.sh}"

# The first ```c block after the "## C quick start" heading.
awk '/^## C quick start/ {h=1} h && /^```c$/ {c=1; next} c && /^```$/ {exit} c {print}' "$root/README.md" |
    sed "s|http://127.0.0.1:8030|$TRIGGER_API_URL|" >"$src"
grep -q "tchat_chat_send_text" "$src" || { echo "readme_quickstart: no C quick start found in README.md"; exit 1; }
${CC:-cc} -std=c99 -Wall -Wextra -Werror -I"$root/include" "$src" -o "$bin" \
    -L"$root/target/release" -ltchat -Wl,-rpath,"$root/target/release" || exit 1
if command -v valgrind >/dev/null; then
    out=$(valgrind -q --leak-check=full --error-exitcode=9 "$bin") || { echo "readme_quickstart: valgrind exit $?"; exit 1; }
else
    echo "readme_quickstart: valgrind missing: running without it"
    out=$("$bin") || exit 1
fi
if [ "$out" != "You said: hello from C" ]; then
    echo "readme_quickstart: unexpected output: $out"
    exit 1
fi
echo "readme_quickstart: the README's C quick start runs clean under valgrind --leak-check=full --error-exitcode=9"
