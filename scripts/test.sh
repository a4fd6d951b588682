#!/usr/bin/env bash
# The README's test command. On a fresh Debian 12 machine, as root:
#   installs what is missing, builds with warnings as errors, and runs every
#   test suite (unit, integration, lab, fuzz), then the unit and integration
#   suites again under ASan/UBSan and under valgrind.
#
# Environment:
#   PUNCH_QUICK=1     skip the sanitizer and valgrind passes
#   BUILD_DIR=DIR     where to build (default: _build)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

BUILD_DIR=${BUILD_DIR:-_build}

# shellcheck source=build-lib.sh
. scripts/build-lib.sh

status=0
section() { printf '\n==== %s ====\n' "$*"; }
summary=$(mktemp /tmp/punch-test-summary.XXXXXX)
trap 'rm -f "$summary"' EXIT
# every meson run's output also goes to $summary, to add up its Ok/Fail lines
rm -f "$BUILD_DIR"/meson-logs/testlog*.json "$BUILD_DIR-asan"/meson-logs/testlog*.json
mtest() { meson test "$@" 2>&1 | tee -a "$summary"; }

section "code style: clang-format (.clang-format) over every C file"
style=$(git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror 2>&1 || true)
if [ -n "$style" ]; then
  printf '%s\n' "$style" | head -n 20
  echo "style: run: git ls-files '*.c' '*.h' | xargs clang-format -i"
  echo "Fail: 1" >>"$summary"
  status=1
else
  echo "style: ok"
  echo "Ok: 1" >>"$summary"
fi

section "build with gcc (warnings are errors) and run the unit, integration and lab suites"
punch_build "$BUILD_DIR" -Dwerror=true -Dfuzz=false -Dredis=enabled
mtest -C "$BUILD_DIR" --print-errorlogs --num-processes 2 --no-suite bench || status=1

if [ "${PUNCH_QUICK:-0}" != 1 ]; then
  section "clang with ASan + UBSan (warnings are errors): unit, integration and fuzz suites"
  CC=clang punch_build "$BUILD_DIR-asan" -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false -Dredis=enabled \
        -Dfuzz=true
  # intercept_tls_get_addr=0: LLVM 14's LeakSanitizer crashes ("Tracer caught
  # signal 11") reading the dynamic TLS of glibc 2.36 threads once
  # glib-networking's GnuTLS module is loaded (wss tests). Without it, dynamic
  # TLS is not scanned: that can only add leak reports, never hide one.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:intercept_tls_get_addr=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp" \
    mtest -C "$BUILD_DIR-asan" --print-errorlogs --num-processes 2 \
    --suite unit --suite integration --suite fuzz || status=1

  section "valgrind (definite leaks and memory errors fail): unit and integration suites"
  mtest -C "$BUILD_DIR" --setup valgrind --print-errorlogs --num-processes 2 \
    --suite unit --suite integration || status=1
fi

if [ $status -ne 0 ]; then
  section "what failed (the last lines of each failed test's output)"
  /usr/bin/python3 scripts/test-failures.py "$BUILD_DIR/meson-logs/testlog.json" \
    "$BUILD_DIR-asan/meson-logs/testlog.json" "$BUILD_DIR/meson-logs/testlog-valgrind.json" || true
fi

section "result"
passed=$(awk '/^Ok:/ {n += $2} END {print n + 0}' "$summary")
failed=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {n += $NF} END {print n + 0}' "$summary")
[ $status -ne 0 ] && [ "$failed" -eq 0 ] && failed=1 # a build or setup step failed
echo "punch: $passed passed, $failed failed"
exit $status
