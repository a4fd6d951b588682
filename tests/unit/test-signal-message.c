/* test-signal-message.c: the punch-signal message codec
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <punch-signal.h>

#define CAND1 "candidate:1 1 UDP 2130706431 10.0.1.2 54321 typ host"
#define CAND2 \
  "candidate:2 1 UDP 1694498815 203.0.113.101 40000 typ srflx raddr 10.0.1.2 rport 54321"
#define UFRAG "abcd"
#define PWD "0123456789abcdefghijkl"

typedef struct
{
  PunchSignalMessage *msg;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->msg = NULL;
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->msg, punch_signal_message_free);
}

static PunchSignalMessage *
parse_ok (const char *json)
{
  g_autoptr (GError) error = NULL;
  const char *code = "unset";
  PunchSignalMessage *msg = punch_signal_message_parse (json, strlen (json), &code, &error);

  g_assert_no_error (error);
  g_assert_nonnull (msg);
  g_assert_null (code);
  return msg;
}

/* to_json, then parse, then to_json again: the same text both times */
static PunchSignalMessage *
round_trip (const PunchSignalMessage *msg)
{
  g_autofree char *json = punch_signal_message_to_json (msg);
  PunchSignalMessage *back = parse_ok (json);
  g_autofree char *again = punch_signal_message_to_json (back);

  g_assert_cmpstr (json, ==, again);
  g_assert_cmpint (back->type, ==, msg->type);
  return back;
}

static void
test_hello (Fixture *f, gconstpointer data)
{
  g_autoptr (PunchSignalMessage) hello = punch_signal_message_new (PUNCH_SIGNAL_MESSAGE_HELLO);
  g_autofree char *json = NULL;

  hello->room = g_strdup ("demo-1");
  hello->token = g_strdup ("1:demo-1:abc");
  json = punch_signal_message_to_json (hello);
  g_assert_cmpstr (
      json, ==,
      "{\"type\":\"hello\",\"version\":1,\"room\":\"demo-1\",\"token\":\"1:demo-1:abc\"}");
  f->msg = round_trip (hello);
  g_assert_cmpuint (f->msg->version, ==, PUNCH_SIGNAL_PROTOCOL_VERSION);
  g_assert_cmpstr (f->msg->room, ==, "demo-1");
  g_assert_cmpstr (f->msg->token, ==, "1:demo-1:abc");
}

static void
test_welcome (Fixture *f, gconstpointer data)
{
  g_autoptr (PunchSignalMessage) w = NULL;
  PunchIceServer *turn;

  f->msg = parse_ok ("{\"type\":\"welcome\",\"version\":1,\"id\":\"p1\",\"peers\":[\"p0\"],"
                     "\"ice_servers\":[{\"urls\":[\"stun:127.0.0.1:3478\",\"turn:127.0.0.1:3478"
                     "?transport=tcp\"],\"username\":\"1:p1\",\"credential\":\"pw\"},"
                     "{\"urls\":\"turns:turn.example\"}]}");
  g_assert_cmpstr (f->msg->id, ==, "p1");
  g_assert_cmpuint (g_strv_length (f->msg->peers), ==, 1);
  g_assert_cmpstr (f->msg->peers[0], ==, "p0");
  g_assert_cmpuint (f->msg->ice_servers->len, ==, 3);
  turn = f->msg->ice_servers->pdata[1];
  g_assert_cmpint (turn->kind, ==, PUNCH_ICE_SERVER_TURN);
  g_assert_cmpint (turn->transport, ==, PUNCH_TRANSPORT_TCP);
  g_assert_cmpstr (turn->username, ==, "1:p1");
  g_assert_cmpstr (turn->credential, ==, "pw");
  g_assert_cmpint (((PunchIceServer *)f->msg->ice_servers->pdata[2])->kind, ==,
                   PUNCH_ICE_SERVER_TURNS);
  w = round_trip (f->msg);
  g_assert_cmpuint (w->ice_servers->len, ==, 3);
  g_assert_cmpstr (((PunchIceServer *)w->ice_servers->pdata[1])->credential, ==, "pw");
}

static void
test_description (Fixture *f, gconstpointer data)
{
  g_autoptr (PunchSignalMessage) msg = punch_signal_message_new (PUNCH_SIGNAL_MESSAGE_DESCRIPTION);
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL;

  msg->to = g_strdup ("peer-b");
  msg->description = punch_description_new (UFRAG, PWD);
  g_ptr_array_add (msg->description->candidates, punch_candidate_parse (CAND1, &error));
  g_ptr_array_add (msg->description->candidates, punch_candidate_parse (CAND2, &error));
  g_assert_no_error (error);
  msg->description->end_of_candidates = TRUE;
  json = punch_signal_message_to_json (msg);
  g_assert_cmpstr (json, ==,
                   "{\"type\":\"description\",\"to\":\"peer-b\",\"description\":{\"ufrag\":\"" UFRAG
                   "\",\"pwd\":\"" PWD "\",\"candidates\":[\"" CAND1 "\",\"" CAND2
                   "\"],\"end-of-candidates\":true}}");
  f->msg = round_trip (msg);
  g_assert_cmpstr (f->msg->to, ==, "peer-b");
  g_assert_cmpstr (f->msg->description->ufrag, ==, UFRAG);
  g_assert_cmpstr (f->msg->description->pwd, ==, PWD);
  g_assert_cmpuint (f->msg->description->candidates->len, ==, 2);
  g_assert_true (f->msg->description->end_of_candidates);
  g_assert_null (f->msg->description->fingerprint);
}

static void
test_description_fingerprint (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchSignalMessage) bad = NULL;

  static const char good[] = "{\"type\":\"description\",\"description\":{\"ufrag\":\"" UFRAG
                             "\",\"pwd\":\"" PWD "\",\"fingerprint\":\"sha-256 "
                             "4aadb9b13f82183b540212df3e5d496b19e57cab3c22afc20c570e88ce2c4c3a\"}}";
  static const char sha1[] = "{\"type\":\"description\",\"description\":{\"ufrag\":\"" UFRAG
                             "\",\"pwd\":\"" PWD "\",\"fingerprint\":\"sha-1 AB\"}}";

  f->msg = parse_ok (good);
  g_assert_cmpstr (f->msg->description->fingerprint, ==,
                   "sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3C:22:AF:"
                   "C2:0C:57:0E:88:CE:2C:4C:3A");
  {
    g_autoptr (PunchSignalMessage) again = round_trip (f->msg);
    g_assert_cmpstr (again->description->fingerprint, ==, f->msg->description->fingerprint);
  }
  bad = punch_signal_message_parse (sha1, strlen (sha1), NULL, &error);
  g_assert_null (bad);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "sha-1"));
}

static void
test_relayed_types (Fixture *f, gconstpointer data)
{
  static const PunchSignalMessageType types[] = {
    PUNCH_SIGNAL_MESSAGE_CANDIDATE,
    PUNCH_SIGNAL_MESSAGE_END_OF_CANDIDATES,
    PUNCH_SIGNAL_MESSAGE_BYE,
  };

  for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autoptr (PunchSignalMessage) msg = punch_signal_message_new (types[i]);
      g_autoptr (PunchSignalMessage) back = NULL;

      g_assert_true (punch_signal_message_type_is_relayed (types[i]));
      msg->from = g_strdup ("a");
      msg->to = g_strdup ("b");
      if (types[i] == PUNCH_SIGNAL_MESSAGE_CANDIDATE)
        msg->candidate = g_strdup (CAND2);
      back = round_trip (msg);
      g_assert_cmpstr (back->from, ==, "a");
      g_assert_cmpstr (back->to, ==, "b");
      g_assert_cmpstr (back->candidate, ==, msg->candidate);
    }
  g_assert_false (punch_signal_message_type_is_relayed (PUNCH_SIGNAL_MESSAGE_HELLO));
  g_assert_false (punch_signal_message_type_is_relayed (PUNCH_SIGNAL_MESSAGE_ERROR));
  g_assert_cmpstr (punch_signal_message_type_to_string (PUNCH_SIGNAL_MESSAGE_END_OF_CANDIDATES), ==,
                   "end-of-candidates");
}

static void
test_server_messages (Fixture *f, gconstpointer data)
{
  g_autoptr (PunchSignalMessage) err
      = punch_signal_message_new_error ("room-full", "room %s is full", "x");
  g_autoptr (PunchSignalMessage) back = round_trip (err);
  g_autoptr (PunchSignalMessage) joined = parse_ok ("{\"type\":\"peer-joined\",\"id\":\"q\"}");
  g_autoptr (PunchSignalMessage) left = parse_ok ("{\"type\":\"peer-left\",\"id\":\"q\"}");

  g_assert_cmpstr (back->code, ==, "room-full");
  g_assert_cmpstr (back->message, ==, "room x is full");
  g_assert_cmpstr (joined->id, ==, "q");
  g_assert_cmpint (left->type, ==, PUNCH_SIGNAL_MESSAGE_PEER_LEFT);
}

static void
test_lenient (Fixture *f, gconstpointer data)
{
  /* unknown members are ignored and never come back out; null is absent */
  f->msg = parse_ok ("{\"extra\":{\"x\":[1,2]},\"type\":\"bye\",\"to\":null,\"from\":\"a\","
                     "\"evil\":\"<script>\"}");
  g_autofree char *json = punch_signal_message_to_json (f->msg);
  g_assert_cmpstr (json, ==, "{\"type\":\"bye\",\"from\":\"a\"}");
}

static void
test_copy (Fixture *f, gconstpointer data)
{
  g_autoptr (PunchSignalMessage) w
      = parse_ok ("{\"type\":\"welcome\",\"version\":1,\"id\":\"p1\",\"peers\":[\"p0\"],"
                  "\"ice_servers\":[{\"urls\":\"stun:127.0.0.1\"}]}");
  g_autofree char *a = punch_signal_message_to_json (w);
  g_autofree char *b = NULL;

  f->msg = punch_signal_message_copy (w);
  b = punch_signal_message_to_json (f->msg);
  g_assert_cmpstr (a, ==, b);
}

typedef struct
{
  const char *json;
  const char *code;
  const char *message_part;
} Bad;

static const Bad bad[] = {
  { "", "bad-json", "empty" },
  { "not json", "bad-json", "not JSON" },
  { "{\"type\":\"bye\"", "bad-json", "not JSON" },
  { "[1,2]", "bad-json", "JSON object" },
  { "\"hello\"", "bad-json", "JSON object" },
  { "{}", "missing-field", "\"type\"" },
  { "{\"type\":7}", "bad-field", "\"type\" must be a string" },
  { "{\"type\":\"launch-missiles\"}", "unknown-type", "launch-missiles" },
  { "{\"type\":\"hello\",\"room\":\"r\"}", "missing-field", "\"version\"" },
  { "{\"type\":\"hello\",\"version\":\"1\",\"room\":\"r\"}", "bad-field", "integer" },
  { "{\"type\":\"hello\",\"version\":1.5,\"room\":\"r\"}", "bad-field", "integer" },
  { "{\"type\":\"hello\",\"version\":0,\"room\":\"r\"}", "bad-field", "between" },
  { "{\"type\":\"hello\",\"version\":1}", "missing-field", "\"room\"" },
  { "{\"type\":\"hello\",\"version\":1,\"room\":\"a b\"}", "bad-field", "only hold" },
  { "{\"type\":\"hello\",\"version\":1,\"room\":\".hidden\"}", "bad-field", "start with" },
  { "{\"type\":\"hello\",\"version\":1,\"room\":\"../etc\"}", "bad-field", "only hold" },
  { "{\"type\":\"hello\",\"version\":1,\"room\":\"\"}", "bad-field", "empty" },
  { "{\"type\":\"hello\",\"version\":1,\"room\":\"r\",\"token\":5}", "bad-field", "\"token\"" },
  { "{\"type\":\"candidate\"}", "missing-field", "\"candidate\"" },
  { "{\"type\":\"candidate\",\"candidate\":\"candidate:1 1 UDP\"}", "bad-field", "bad candidate" },
  { "{\"type\":\"candidate\",\"candidate\":\"" CAND1 "\",\"to\":[\"x\"]}", "bad-field", "\"to\"" },
  { "{\"type\":\"candidate\",\"candidate\":\"" CAND1 "\",\"to\":\"x:y\"}", "bad-field",
    "only hold" },
  { "{\"type\":\"description\"}", "missing-field", "\"description\"" },
  { "{\"type\":\"description\",\"description\":\"x\"}", "bad-field", "must be an object" },
  { "{\"type\":\"description\",\"description\":{\"ufrag\":\"" UFRAG "\"}}", "missing-field",
    "\"pwd\"" },
  { "{\"type\":\"description\",\"description\":{\"ufrag\":\"ab\",\"pwd\":\"" PWD "\"}}",
    "bad-field", "username fragment" },
  { "{\"type\":\"description\",\"description\":{\"ufrag\":\"" UFRAG "\",\"pwd\":\"" PWD
    "\",\"candidates\":[1]}}",
    "bad-field", "strings only" },
  { "{\"type\":\"description\",\"description\":{\"ufrag\":\"" UFRAG "\",\"pwd\":\"" PWD
    "\",\"candidates\":[\"candidate:x\"]}}",
    "bad-field", "bad description" },
  { "{\"type\":\"description\",\"description\":{\"ufrag\":\"" UFRAG "\",\"pwd\":\"" PWD
    "\",\"end-of-candidates\":\"yes\"}}",
    "bad-field", "true or false" },
  { "{\"type\":\"welcome\",\"version\":1,\"id\":\"p\",\"ice_servers\":[{\"urls\":\"http://x\"}]}",
    "bad-field", "ICE server" },
  { "{\"type\":\"welcome\",\"version\":1,\"id\":\"p\",\"ice_servers\":[{}]}", "missing-field",
    "urls" },
  { "{\"type\":\"welcome\",\"version\":1,\"id\":\"p\",\"peers\":\"x\"}", "bad-field",
    "must be an array" },
  { "{\"type\":\"error\",\"message\":\"m\"}", "missing-field", "\"code\"" },
};

static void
test_bad (Fixture *f, gconstpointer data)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      const char *code = NULL;
      g_autoptr (PunchSignalMessage) msg = NULL;

      g_test_message ("%s", bad[i].json);
      msg = punch_signal_message_parse (bad[i].json, strlen (bad[i].json), &code, &error);
      g_assert_null (msg);
      g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
      g_assert_cmpstr (code, ==, bad[i].code);
      if (strstr (error->message, bad[i].message_part) == NULL)
        g_error ("\"%s\" does not say \"%s\"", error->message, bad[i].message_part);
    }
}

static void
expect_code (const char *text, gsize len, const char *expected)
{
  g_autoptr (GError) error = NULL;
  const char *code = NULL;
  g_autoptr (PunchSignalMessage) msg = punch_signal_message_parse (text, len, &code, &error);

  g_assert_null (msg);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
  g_assert_cmpstr (code, ==, expected);
}

static void
test_limits (Fixture *f, gconstpointer data)
{
  g_autoptr (GString) deep = g_string_new ("{\"type\":\"bye\",\"x\":");
  g_autofree char *big = NULL;
  g_autofree char *long_room = NULL;
  g_autofree char *json = NULL;
  static const char nul[] = "{\"type\":\"bye\"}\0{}";
  static const char latin1[] = "{\"type\":\"bye\",\"x\":\"\xe9\"}";

  /* nesting is refused before json-glib recurses into it */
  for (int i = 0; i < 60000; i++)
    g_string_append_c (deep, '[');
  expect_code (deep->str, deep->len, "bad-json");

  big = g_strnfill (PUNCH_SIGNAL_MAX_FRAME + 1, ' ');
  expect_code (big, PUNCH_SIGNAL_MAX_FRAME + 1, "too-big");

  expect_code (nul, sizeof nul - 1, "bad-json");
  expect_code (latin1, strlen (latin1), "bad-json");

  long_room = g_strnfill (65, 'r');
  json = g_strdup_printf ("{\"type\":\"hello\",\"version\":1,\"room\":\"%s\"}", long_room);
  expect_code (json, strlen (json), "bad-field");

  /* a length, not a terminator, bounds the input */
  f->msg = parse_ok ("{\"type\":\"bye\"}");
  g_clear_pointer (&f->msg, punch_signal_message_free);
  {
    g_autoptr (GError) error = NULL;
    f->msg = punch_signal_message_parse ("{\"type\":\"bye\"}garbage", 14, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (f->msg->type, ==, PUNCH_SIGNAL_MESSAGE_BYE);
  }
}

static void
test_names (Fixture *f, gconstpointer data)
{
  static const char *const good[] = { "a", "demo", "Room_1.2-3", "0", NULL };
  static const char *const nope[] = { "", ".x", "a/b", "a:b", "a b", "é", "a\nb", NULL };
  g_autofree char *max = g_strnfill (64, 'x');
  g_autofree char *over = g_strnfill (65, 'x');

  for (guint i = 0; good[i]; i++)
    g_assert_true (punch_signal_name_validate (good[i], "room name", NULL));
  for (guint i = 0; nope[i]; i++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_false (punch_signal_name_validate (nope[i], "room name", &error));
      g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, "room name"));
    }
  g_assert_true (punch_signal_name_validate (max, "room name", NULL));
  g_assert_false (punch_signal_name_validate (over, "room name", NULL));
}

/* The GType's nicks are the wire names (and its macro is the generated one). */
static void
test_type_gtype (Fixture *f, gconstpointer data)
{
  g_autoptr (GEnumClass) klass = g_type_class_ref (PUNCH_TYPE_SIGNAL_MESSAGE_TYPE);

  g_assert_cmpstr (g_type_name (PUNCH_TYPE_SIGNAL_MESSAGE_TYPE), ==, "PunchSignalMessageType");
  g_assert_cmpuint (klass->n_values, ==, PUNCH_SIGNAL_MESSAGE_ERROR + 1);
  for (guint i = 0; i < klass->n_values; i++)
    {
      g_assert_cmpint (klass->values[i].value, ==, (int)i);
      g_assert_cmpstr (klass->values[i].value_nick, ==,
                       punch_signal_message_type_to_string (klass->values[i].value));
    }
  g_assert_cmpstr (g_enum_get_value (klass, PUNCH_SIGNAL_MESSAGE_END_OF_CANDIDATES)->value_nick, ==,
                   "end-of-candidates");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/punch/signal/message/hello", test_hello);
  ADD ("/punch/signal/message/welcome", test_welcome);
  ADD ("/punch/signal/message/description", test_description);
  ADD ("/punch/signal/message/description-fingerprint", test_description_fingerprint);
  ADD ("/punch/signal/message/relayed-types", test_relayed_types);
  ADD ("/punch/signal/message/server-messages", test_server_messages);
  ADD ("/punch/signal/message/unknown-members-dropped", test_lenient);
  ADD ("/punch/signal/message/copy", test_copy);
  ADD ("/punch/signal/message/bad", test_bad);
  ADD ("/punch/signal/message/limits", test_limits);
  ADD ("/punch/signal/names", test_names);
  ADD ("/punch/signal/message/type-gtype", test_type_gtype);
#undef ADD
  return g_test_run ();
}
