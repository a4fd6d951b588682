#!/bin/bash
# test-install.sh: what `meson install` puts on a system is enough to build an
# application. Installs the build into a scratch DESTDIR, then compiles a tiny
# program and examples/punch-signal-pair.c with nothing but
# `pkg-config --cflags --libs punch-signal` pointed at it, and runs them
# against the installed libraries. TAP.
#
# Usage (from meson): test-install.sh CC [SANITIZE]
# SPDX-License-Identifier: MIT
set -u

BUILD=${PUNCH_BUILD_DIR:?run through meson test}
SRC=${PUNCH_SOURCE_DIR:?run through meson test}
CC=${1:-cc}
SANITIZE=${2:-none}
tmp=$(mktemp -d /tmp/punch-install-test-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

echo "1..7"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

dest=$tmp/root
if meson install -C "$BUILD" --no-rebuild --quiet --destdir "$dest" > "$tmp/install.log" 2>&1; then
  ok "meson install --destdir"
else
  not_ok "meson install --destdir"; sed 's/^/# /' "$tmp/install.log"; exit 0
fi

pc=$(find "$dest" -name punch-signal.pc | head -n 1)
check "punch-signal.pc and punch.pc are installed" test -n "$pc" -a -f "$(dirname "$pc")/punch.pc"
# A sysroot: the DESTDIR, with the system's own /usr/include and /usr/lib
# (glib, libnice, libsoup...) reachable inside it.
for d in include lib; do [ -e "$dest/usr/$d" ] || ln -s "/usr/$d" "$dest/usr/$d"; done
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_SYSROOT_DIR=$dest
flags=$(pkg-config --cflags --libs punch-signal)
echo "# pkg-config --cflags --libs punch-signal: $flags"
libdir=$(PKG_CONFIG_SYSROOT_DIR= pkg-config --variable=libdir punch-signal)
san=()
[ "$SANITIZE" != none ] && san=(-fsanitize="$SANITIZE")

cat > "$tmp/tiny.c" << 'C'
#include <punch/punch.h>
#include <punch/punch-signal.h>

int
main (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchSignalClient) client = punch_signal_client_new ("ws://127.0.0.1:1/ws", &error);
  g_autoptr (GEnumClass) states = g_type_class_ref (PUNCH_TYPE_STATE);

  g_print ("%s %s %s\n", client ? "client" : error->message,
           g_enum_get_value (states, PUNCH_STATE_CONNECTED)->value_nick,
           punch_error_code_to_string (PUNCH_ERROR_SIGNALING));
  return client ? 0 : 1;
}
C
# shellcheck disable=SC2086 # the flags are words
check "a tiny program builds with pkg-config only" \
  $CC "${san[@]}" -Werror -o "$tmp/tiny" "$tmp/tiny.c" $flags
# shellcheck disable=SC2086
check "examples/punch-signal-pair.c builds with pkg-config only" \
  $CC "${san[@]}" -Werror -o "$tmp/pair" "$SRC/examples/punch-signal-pair.c" $flags

out=$(LD_LIBRARY_PATH=$dest$libdir "$tmp/tiny" 2>&1)
check "the tiny program runs: client, enum GType, error names" [ "$out" = "client connected signaling" ]
echo "# tiny: $out"
check "it loads the installed libpunch-signal.so" \
  sh -c "LD_LIBRARY_PATH='$dest$libdir' ldd '$tmp/tiny' | grep -q '$dest$libdir/libpunch-signal.so'"
check "no private header is installed" \
  sh -c "! find '$dest' -name '*-private.h' -o -name 'punch-signal-server*.h' -o -name 'punch-stun.h' | grep -q ."
