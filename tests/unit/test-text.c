/* test-text.c: punch_text_escape(), which stands between a server's strings
 * and a terminal
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <punch.h>

typedef struct
{
  char *out;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->out = NULL;
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_free (f->out);
}

static void
check (Fixture *f, const char *in, const char *want)
{
  g_free (f->out);
  f->out = punch_text_escape (in);
  g_assert_cmpstr (f->out, ==, want);
}

static void
test_plain (Fixture *f, gconstpointer data)
{
  check (f, "Coturn-4.6.1 'Gorst'", "Coturn-4.6.1 'Gorst'");
  check (f, "caf\u00e9 \u4e2d\u6587", "caf\u00e9 \u4e2d\u6587");
  check (f, "", "");
  check (f, NULL, "");
}

static void
test_escape_codes (Fixture *f, gconstpointer data)
{
  /* what tests/lab/fake-stun.py's "escape" mode sends as SOFTWARE */
  check (f, "\x1b[2J\x1b[Hfake line: hacked\n\x1b]0;owned\x07",
         "\\x1b[2J\\x1b[Hfake line: hacked\\n\\x1b]0;owned\\x07");
  g_assert_null (strchr (f->out, '\x1b'));
  g_assert_null (strchr (f->out, '\n'));
  check (f, "a\rb\tc\x7f", "a\\rb\\tc\\x7f");
  check (f, "back\\slash", "back\\\\slash");
}

static void
test_c1_and_bidi (Fixture *f, gconstpointer data)
{
  /* U+009B is CSI on terminals that take C1 controls; U+202E reverses text */
  check (f,
         "x\xc2\x9b"
         "2Jy",
         "x\\u{009b}2Jy");
  check (f, "abc\u202edcba\u2066", "abc\\u{202e}dcba\\u{2066}");
}

static void
test_invalid_utf8 (Fixture *f, gconstpointer data)
{
  check (f, "a\xff\x1b", "a\uFFFD\\x1b");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/punch/text/plain", test_plain);
  ADD ("/punch/text/escape-codes", test_escape_codes);
  ADD ("/punch/text/c1-and-bidi", test_c1_and_bidi);
  ADD ("/punch/text/invalid-utf8", test_invalid_utf8);
#undef ADD
  return g_test_run ();
}
