/* test-signal-session.c: two PunchSessions connected through punch-signal on loopback
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <punch-signal.h>

#include "punch-test-util.h"
#include "test-signal-common.h"

typedef struct
{
  PunchSignalClient *client;
  PunchSession *session;
  PunchSignalBinding *binding;
  GPtrArray *received; /* datagrams, as strings */
  guint errors;
  gboolean closed;
  /* join_session_async() */
  GPtrArray *created;       /* PunchSession*, as `session-created` announced them */
  guint created_candidates; /* `local-candidate` of the last one, followed from the start */
  gboolean joined;
  GError *join_error;
} Side;

typedef struct
{
  SignalServer *server;
  Side a, b;
} Fixture;

static void
on_datagram (PunchSession *session, GBytes *data, Side *side)
{
  gsize len;
  const char *bytes = g_bytes_get_data (data, &len);

  g_ptr_array_add (side->received, g_strndup (bytes, len));
}

static void
on_binding_error (PunchSignalBinding *binding, GError *error, Side *side)
{
  g_test_message ("binding error: %s", error->message);
  side->errors++;
}

static void
side_join (Fixture *f, Side *side, const char *room)
{
  g_autoptr (GError) error = NULL;

  side->client = punch_signal_client_new (f->server->url, &error);
  g_assert_no_error (error);
  error = signal_join (side->client, room, NULL);
  g_assert_no_error (error);
  side->received = g_ptr_array_new_with_free_func (g_free);
}

static PunchConfig *
loopback_config (void)
{
  static const char *const loopback[] = { "127.0.0.1", NULL };
  PunchConfig *config = punch_config_new ();

  g_strfreev (config->local_addresses);
  config->local_addresses = g_strdupv ((char **)loopback);
  config->upnp = FALSE;
  return config;
}

static void
side_make_session (Side *side)
{
  g_autoptr (PunchConfig) config = loopback_config ();
  g_autoptr (GError) error = NULL;
  g_assert_true (punch_signal_client_apply_to_config (side->client, config, &error));
  g_assert_no_error (error);
  side->session = punch_session_new (config, &error);
  g_assert_no_error (error);
  g_signal_connect (side->session, "datagram", G_CALLBACK (on_datagram), side);
}

static void
side_bind (Side *side)
{
  side->binding = punch_signal_binding_new (side->client, side->session);
  g_signal_connect (side->binding, "error", G_CALLBACK (on_binding_error), side);
}

static void
side_start (Side *side)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (punch_session_start (side->session, &error));
  g_assert_no_error (error);
}

/* ---- punch_signal_client_join_session_async() ---- */

static void
on_created_candidate (PunchSession *session, const char *line, Side *side)
{
  if (session == g_ptr_array_index (side->created, side->created->len - 1))
    side->created_candidates++;
}

static void
on_session_created (PunchSignalClient *client, PunchSession *session, Side *side)
{
  /* not started yet: every candidate is still to come */
  g_assert_cmpint (punch_session_get_state (session), ==, PUNCH_STATE_NEW);
  g_ptr_array_add (side->created, g_object_ref (session));
  side->created_candidates = 0;
  g_signal_connect (session, "local-candidate", G_CALLBACK (on_created_candidate), side);
}

static void
on_joined_session (GObject *source, GAsyncResult *result, gpointer data)
{
  Side *side = data;

  side->binding = punch_signal_client_join_session_finish (PUNCH_SIGNAL_CLIENT (source), result,
                                                           &side->join_error);
  side->joined = TRUE;
}

static gboolean
side_joined (gpointer data)
{
  return ((Side *)data)->joined;
}

/* Joins with join_session_async(): the session gathers while the client joins. */
static void
side_join_session (Fixture *f, Side *side, const char *room)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConfig) config = loopback_config ();

  side->client = punch_signal_client_new (f->server->url, &error);
  g_assert_no_error (error);
  side->received = g_ptr_array_new_with_free_func (g_free);
  side->created = g_ptr_array_new_with_free_func (g_object_unref);
  g_signal_connect (side->client, "session-created", G_CALLBACK (on_session_created), side);
  punch_signal_client_join_session_async (side->client, room, NULL, config, NULL, on_joined_session,
                                          side);
  g_assert_true (punch_test_wait (side_joined, side, 10000));
  g_assert_no_error (side->join_error);
  g_assert_nonnull (side->binding);
  g_assert_true (punch_signal_client_is_joined (side->client));
  g_assert_true (punch_signal_binding_get_client (side->binding) == side->client);
  side->session = g_object_ref (punch_signal_binding_get_session (side->binding));
  g_signal_connect (side->session, "datagram", G_CALLBACK (on_datagram), side);
  g_signal_connect (side->binding, "error", G_CALLBACK (on_binding_error), side);
  /* the session that counts is the last one announced */
  g_assert_cmpuint (side->created->len, >=, 1);
  g_assert_true (g_ptr_array_index (side->created, side->created->len - 1) == side->session);
}

/* Every candidate of the returned session was seen by a handler connected at
 * `session-created`, including those gathered before the join completed (and,
 * when the room's role differs from the one gathering began with, the void
 * ones gathered before the session gathered again). */
static void
assert_candidates_followed (Side *side)
{
  g_autoptr (PunchDescription) desc = punch_session_get_local_description (side->session);

  g_assert_cmpuint (desc->candidates->len, >, 0);
  g_assert_cmpuint (side->created_candidates, >=, desc->candidates->len);
}

static void
on_closed (GObject *source, GAsyncResult *result, gpointer data)
{
  Side *side = data;

  punch_session_close_finish (PUNCH_SESSION (source), result, NULL);
  side->closed = TRUE;
}

static gboolean
side_closed (gpointer data)
{
  return ((Side *)data)->closed;
}

static void
side_clear (Side *side)
{
  g_clear_object (&side->binding);
  if (side->session)
    {
      punch_session_close_async (side->session, NULL, on_closed, side);
      g_assert_true (punch_test_wait (side_closed, side, 5000));
    }
  g_clear_object (&side->session);
  if (side->client)
    punch_signal_client_close (side->client);
  g_clear_object (&side->client);
  g_clear_pointer (&side->received, g_ptr_array_unref);
  g_clear_pointer (&side->created, g_ptr_array_unref);
  g_clear_error (&side->join_error);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  memset (f, 0, sizeof *f);
  f->server = signal_server_start (NULL, NULL, NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  side_clear (&f->a);
  side_clear (&f->b);
  punch_test_spin (50);
  signal_server_stop (f->server);
}

static gboolean
both_settled (gpointer data)
{
  Fixture *f = data;
  PunchState a = punch_session_get_state (f->a.session);
  PunchState b = punch_session_get_state (f->b.session);

  return (a == PUNCH_STATE_CONNECTED || a == PUNCH_STATE_FAILED)
         && (b == PUNCH_STATE_CONNECTED || b == PUNCH_STATE_FAILED);
}

static gboolean
b_received (gpointer data)
{
  return ((Fixture *)data)->b.received->len > 0;
}

static void
assert_connected (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  punch_test_wait (both_settled, f, 20000);
  for (int i = 0; i < 2; i++)
    {
      Side *s = i == 0 ? &f->a : &f->b;
      const GError *e = punch_session_get_error (s->session);
      if (punch_session_get_state (s->session) != PUNCH_STATE_CONNECTED)
        g_error ("session %c is %s: %s", 'a' + i,
                 punch_state_to_string (punch_session_get_state (s->session)),
                 e ? e->message : "(no error)");
    }
  /* the roles were decided through the room: the first peer is controlled */
  g_assert_false (punch_session_is_controlling (f->a.session));
  g_assert_true (punch_session_is_controlling (f->b.session));
  g_assert_cmpstr (punch_signal_binding_get_remote_id (f->a.binding), ==,
                   punch_signal_client_get_id (f->b.client));
  g_assert_cmpstr (punch_signal_binding_get_remote_id (f->b.binding), ==,
                   punch_signal_client_get_id (f->a.client));
  g_assert_cmpuint (f->a.errors + f->b.errors, ==, 0);

  g_assert_true (punch_session_send (f->a.session, "over the punched path", 21, &error));
  g_assert_no_error (error);
  g_assert_true (punch_test_wait (b_received, f, 5000));
  g_assert_cmpstr (f->b.received->pdata[0], ==, "over the punched path");
}

/* A is alone in the room and gathers before B comes; B binds, then starts. */
static void
test_connect (Fixture *f, gconstpointer data)
{
  side_join (f, &f->a, "pair");
  side_make_session (&f->a);
  side_bind (&f->a);
  side_start (&f->a);
  punch_test_spin (300);

  side_join (f, &f->b, "pair");
  side_make_session (&f->b);
  side_bind (&f->b);
  side_start (&f->b);
  assert_connected (f);
}

/* Both sessions have finished gathering before either binding exists. */
static void
test_bind_late (Fixture *f, gconstpointer data)
{
  side_join (f, &f->a, "late");
  side_join (f, &f->b, "late");
  side_make_session (&f->a);
  side_make_session (&f->b);
  side_start (&f->a);
  side_start (&f->b);
  punch_test_spin (500);
  side_bind (&f->a);
  side_bind (&f->b);
  assert_connected (f);
}

/* A's description and candidates reach B's client before B has a binding:
 * B's first description makes A send its own again. */
static void
test_missed_description (Fixture *f, gconstpointer data)
{
  side_join (f, &f->a, "missed");
  side_make_session (&f->a);
  side_bind (&f->a);
  side_start (&f->a);
  side_join (f, &f->b, "missed");
  punch_test_spin (300); /* A's description arrives; nobody listens on B yet */
  g_assert_cmpstr (punch_signal_binding_get_remote_id (f->a.binding), ==,
                   punch_signal_client_get_id (f->b.client));
  side_make_session (&f->b);
  side_bind (&f->b);
  side_start (&f->b);
  assert_connected (f);
}

/* The early-gathering join: one session each, made and started before the
 * join completed, its role set by the room, bound, connected. */
static void
test_join_session (Fixture *f, gconstpointer data)
{
  side_join_session (f, &f->a, "early");
  side_join_session (f, &f->b, "early");
  /* no ICE servers in welcome: the early session is the one returned */
  g_assert_cmpuint (f->a.created->len, ==, 1);
  g_assert_cmpuint (f->b.created->len, ==, 1);
  g_assert_cmpint (punch_session_get_state (f->b.session), !=, PUNCH_STATE_NEW);
  assert_connected (f);
  assert_candidates_followed (&f->a);
  assert_candidates_followed (&f->b);
}

/* welcome brings a STUN server (punch-signal --turn-uri): the early session
 * cannot take it, so it is closed and a second one, with it, is returned. */
static void
test_join_session_room_servers (Fixture *f, gconstpointer data)
{
  g_autofree char *stun = g_strdup_printf ("stun:127.0.0.1:%u", punch_test_free_port ());
  const char *extra[] = { "--turn-uri", stun, NULL };

  signal_server_stop (f->server);
  f->server = signal_server_start (NULL, NULL, extra);
  side_join_session (f, &f->a, "servers");
  side_join_session (f, &f->b, "servers");
  for (int i = 0; i < 2; i++)
    {
      Side *s = i == 0 ? &f->a : &f->b;
      g_assert_cmpuint (s->created->len, ==, 2);
      g_assert_cmpint (punch_session_get_state (s->created->pdata[0]), ==, PUNCH_STATE_CLOSED);
      g_assert_cmpuint (punch_signal_client_get_ice_servers (s->client)->len, ==, 1);
    }
  assert_connected (f);
  assert_candidates_followed (&f->a);
  assert_candidates_followed (&f->b);
}

/* A refused join fails the operation and closes the early session. */
static void
test_join_session_refused (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConfig) config = loopback_config ();
  Side *side = &f->a;

  side->client = punch_signal_client_new (f->server->url, &error);
  g_assert_no_error (error);
  side->created = g_ptr_array_new_with_free_func (g_object_unref);
  g_signal_connect (side->client, "session-created", G_CALLBACK (on_session_created), side);
  punch_signal_client_join_session_async (side->client, ".bad", NULL, config, NULL,
                                          on_joined_session, side);
  g_assert_true (punch_test_wait (side_joined, side, 10000));
  g_assert_error (side->join_error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
  g_assert_null (side->binding);
  g_assert_cmpuint (side->created->len, ==, 1);
  g_assert_cmpint (punch_session_get_state (side->created->pdata[0]), ==, PUNCH_STATE_CLOSED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/punch/signal/session/connect", Fixture, NULL, fixture_set_up, test_connect,
              fixture_tear_down);
  g_test_add ("/punch/signal/session/bind-late", Fixture, NULL, fixture_set_up, test_bind_late,
              fixture_tear_down);
  g_test_add ("/punch/signal/session/missed-description", Fixture, NULL, fixture_set_up,
              test_missed_description, fixture_tear_down);
  g_test_add ("/punch/signal/session/join-session", Fixture, NULL, fixture_set_up,
              test_join_session, fixture_tear_down);
  g_test_add ("/punch/signal/session/join-session-room-servers", Fixture, NULL, fixture_set_up,
              test_join_session_room_servers, fixture_tear_down);
  g_test_add ("/punch/signal/session/join-session-refused", Fixture, NULL, fixture_set_up,
              test_join_session_refused, fixture_tear_down);
  return g_test_run ();
}
