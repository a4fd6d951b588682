/* test-enum-types.c: the enum GTypes made by glib-mkenums
 *
 * Each public enum has a GType (PUNCH_TYPE_STATE, ...) whose value nicks are
 * exactly the names its *_to_string() function gives, which are the names in
 * punch's JSON output. A new value, or a renamed one, fails here. Not in the
 * table: PunchCheckProbeStatus (no *_to_string()); PunchPeerKind, whose
 * sentinel PUNCH_PEER_N_KINDS has the nick "n-kinds" where
 * punch_peer_kind_to_key() says "?"; PunchNatCheckReject, where several of
 * punch_nat_check_reject_to_string()'s names differ from the nicks.
 *
 * SPDX-License-Identifier: MIT
 */
#include <punch.h>

typedef const char *(*ToString) (int value);

typedef struct
{
  const char *path;
  GType (*get_type) (void);
  ToString to_string;
  guint n_values;
  const char *fallback; /* what to_string gives for a value out of range */
} EnumCase;

static void
test_nicks (gconstpointer data)
{
  const EnumCase *c = data;
  GType type = c->get_type ();
  g_autoptr (GEnumClass) klass = NULL;

  g_assert_true (G_TYPE_IS_ENUM (type));
  klass = g_type_class_ref (type);
  g_assert_cmpuint (klass->n_values, ==, c->n_values);
  for (guint i = 0; i < klass->n_values; i++)
    {
      const GEnumValue *v = &klass->values[i];

      g_assert_cmpint (v->value, ==, (int)i); /* dense, from 0 */
      if (c->to_string)
        g_assert_cmpstr (v->value_nick, ==, c->to_string (v->value));
    }
  if (c->to_string)
    g_assert_cmpstr (c->to_string ((int)klass->n_values), ==, c->fallback);
}

/* the GType names the lead's typed signals and properties use */
static void
test_names (void)
{
  g_assert_cmpstr (g_type_name (PUNCH_TYPE_STATE), ==, "PunchState");
  g_assert_cmpstr (g_type_name (PUNCH_TYPE_ERROR_CODE), ==, "PunchErrorCode");
  g_assert_cmpstr (g_type_name (PUNCH_TYPE_POLICY), ==, "PunchPolicy");
  g_assert_cmpstr (g_type_name (PUNCH_TYPE_ROLE), ==, "PunchRole");
  g_assert_cmpstr (g_type_name (PUNCH_TYPE_MODE), ==, "PunchMode");
  g_assert_cmpstr (g_type_name (PUNCH_TYPE_CANDIDATE_TYPE), ==, "PunchCandidateType");
  g_assert_cmpstr (g_type_name (PUNCH_TYPE_TCP_TYPE), ==, "PunchTcpType");
  g_assert_cmpstr (g_type_name (PUNCH_TYPE_ICE_SERVER_KIND), ==, "PunchIceServerKind");
  g_assert_cmpstr (g_type_name (PUNCH_TYPE_TRANSPORT), ==, "PunchTransport");
}

static void
assert_nick (GType type, int value, const char *nick)
{
  g_autoptr (GEnumClass) klass = g_type_class_ref (type);

  g_assert_cmpstr (g_enum_get_value (klass, value)->value_nick, ==, nick);
}

static void
test_other_nicks (void)
{
  assert_nick (PUNCH_TYPE_ICE_SERVER_KIND, PUNCH_ICE_SERVER_STUN, "stun");
  assert_nick (PUNCH_TYPE_ICE_SERVER_KIND, PUNCH_ICE_SERVER_TURN, "turn");
  assert_nick (PUNCH_TYPE_ICE_SERVER_KIND, PUNCH_ICE_SERVER_TURNS, "turns");
  assert_nick (PUNCH_TYPE_TCP_TYPE, PUNCH_TCP_TYPE_NONE, "none");
  assert_nick (PUNCH_TYPE_TCP_TYPE, PUNCH_TCP_TYPE_ACTIVE, "active");
  assert_nick (PUNCH_TYPE_TCP_TYPE, PUNCH_TCP_TYPE_PASSIVE, "passive");
  assert_nick (PUNCH_TYPE_TCP_TYPE, PUNCH_TCP_TYPE_SO, "so");
}

int
main (int argc, char **argv)
{
  static const EnumCase cases[] = {
    { "/punch/enum-types/state", punch_state_get_type, (ToString)punch_state_to_string, 6,
      "unknown" },
    { "/punch/enum-types/error-code", punch_error_code_get_type,
      (ToString)punch_error_code_to_string, 15, "unknown" },
    { "/punch/enum-types/policy", punch_policy_get_type, (ToString)punch_policy_to_string, 2,
      "unknown" },
    { "/punch/enum-types/role", punch_role_get_type, (ToString)punch_role_to_string, 3, "unknown" },
    { "/punch/enum-types/mode", punch_mode_get_type, (ToString)punch_mode_to_string, 2, "unknown" },
    { "/punch/enum-types/security", punch_security_get_type, (ToString)punch_security_to_string, 2,
      "unknown" },
    { "/punch/enum-types/candidate-type", punch_candidate_type_get_type,
      (ToString)punch_candidate_type_to_string, 4, "unknown" },
    { "/punch/enum-types/transport", punch_transport_get_type, (ToString)punch_transport_to_string,
      3, "unknown" },
    { "/punch/enum-types/nat-behaviour", punch_nat_behaviour_get_type,
      (ToString)punch_nat_behaviour_to_string, 5, "unknown" },
    /* out of range is "none", the name of PUNCH_CHECK_METHOD_NONE */
    { "/punch/enum-types/check-method", punch_check_method_get_type,
      (ToString)punch_check_method_to_string, 4, "none" },
    { "/punch/enum-types/port-allocation", punch_port_allocation_get_type,
      (ToString)punch_port_allocation_to_string, 4, "unknown" },
    { "/punch/enum-types/hairpin", punch_hairpin_get_type, (ToString)punch_hairpin_to_string, 4,
      "unknown" },
    { "/punch/enum-types/path", punch_path_get_type, (ToString)punch_path_to_string, 3, "unknown" },
    { "/punch/enum-types/stun-family", punch_stun_family_get_type,
      (ToString)punch_stun_family_to_string, 4, "unknown" },
    { "/punch/enum-types/tcp-type", punch_tcp_type_get_type, (ToString)punch_tcp_type_to_string, 4,
      "unknown" },
    /* no *_to_string(): the nicks are what the URI schemes say */
    { "/punch/enum-types/ice-server-kind", punch_ice_server_kind_get_type, NULL, 3, NULL },
  };

  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    g_test_add_data_func (cases[i].path, &cases[i], test_nicks);
  g_test_add_func ("/punch/enum-types/names", test_names);
  g_test_add_func ("/punch/enum-types/other-nicks", test_other_nicks);
  return g_test_run ();
}
