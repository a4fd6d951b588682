/* punch-nat-check-turn.c: an Allocate to every TURN server
 *
 * Each TURN server's name is resolved, then the session's diagnosis prober
 * (punch_session_diagnose_turn_async(), lib/punch-session-turn.c) tries an
 * allocation over the server's transport: UDP, TCP, or TLS for turns:
 * through the TLS bridge. A successful allocation is released at once.
 * Nothing runs past the check's deadline.
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-nat-check-private.h"
#include "punch-session-private.h"
#include "punch-tls-bridge.h"
#include "punch-error.h"

#include <string.h>

typedef struct
{
  PunchNatOps *phase;
  PunchIceServer *server;
  PunchNatCheckTurn *turn;
  PunchTlsBridge *bridge;
} Probe;

static void
probe_end (Probe *p)
{
  PunchNatOps *phase = p->phase;

  g_clear_pointer (&p->bridge, punch_tls_bridge_free);
  punch_ice_server_free (p->server);
  g_free (p);
  punch_nat_ops_done (phase);
}

static void
on_diagnosed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Probe *p = user_data;
  PunchNatCheckTurn *t = p->turn;
  g_autoptr (GError) error = NULL;

  (void)source;
  if (punch_session_diagnose_turn_finish (result, &error))
    {
      t->allocated = TRUE;
      t->auth = "accepted";
      t->message = g_strdup ("allocation succeeded, and was released");
    }
  else
    {
      t->allocated = FALSE;
      if (error->domain == PUNCH_ERROR)
        t->code = punch_error_code_to_string (error->code);
      else
        t->code = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ? "timeout" : "failed";
      t->auth = g_error_matches (error, PUNCH_ERROR, PUNCH_ERROR_AUTHENTICATION) ? "rejected"
                : g_error_matches (error, PUNCH_ERROR, PUNCH_ERROR_UNREACHABLE)  ? "not-reached"
                                                                                 : "unknown";
      if (p->bridge && punch_tls_bridge_get_last_error (p->bridge))
        t->message = g_strdup_printf ("%s (TLS: %s)", error->message,
                                      punch_tls_bridge_get_last_error (p->bridge)->message);
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        t->message = g_strdup ("no answer before the check's deadline");
      else
        t->message = g_strdup (error->message);
    }
  probe_end (p);
}

static void
start_allocate (Probe *p, GInetAddress *ia)
{
  PunchNatCheck *check = p->phase->check;
  PunchNatCheckTurn *t = p->turn;
  g_autofree char *ip = g_inet_address_to_string (ia);

  if (p->server->kind == PUNCH_ICE_SERVER_TURNS)
    {
      g_autoptr (GError) error = NULL;

      p->bridge = punch_tls_bridge_new (p->server->host, p->server->port, check->tls_ca_file, NULL,
                                        NULL, &error);
      if (p->bridge == NULL)
        {
          t->code = "failed";
          t->message = g_strdup (error->message);
          probe_end (p);
          return;
        }
      punch_session_diagnose_turn_async (p->server, "127.0.0.1",
                                         punch_tls_bridge_get_port (p->bridge), p->phase->cancel,
                                         on_diagnosed, p);
    }
  else
    punch_session_diagnose_turn_async (p->server, ip, p->server->port, p->phase->cancel,
                                       on_diagnosed, p);
}

static void
on_resolved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Probe *p = user_data;
  PunchNatCheck *check = p->phase->check;
  g_autoptr (GError) error = NULL;
  GList *list = g_resolver_lookup_by_name_finish (G_RESOLVER (source), result, &error);
  GInetAddress *pick = NULL;

  for (GList *l = list; l && pick == NULL; l = l->next)
    {
      int f = g_inet_address_get_family (l->data) == G_SOCKET_FAMILY_IPV4 ? 4 : 6;
      if (check->family == 0 || f == check->family)
        pick = l->data;
    }
  if (pick == NULL)
    {
      p->turn->code = "unreachable";
      p->turn->auth = "not-reached";
      p->turn->message
          = list == NULL
                ? g_strdup_printf ("cannot resolve %s: %s", p->server->host, error->message)
                : g_strdup_printf ("%s has no IPv%d address", p->server->host, check->family);
      g_resolver_free_addresses (list);
      probe_end (p);
      return;
    }
  g_main_context_push_thread_default (check->context);
  start_allocate (p, pick);
  g_main_context_pop_thread_default (check->context);
  g_resolver_free_addresses (list);
}

void
punch_nat_turn_probe_all (PunchNatCheck *check)
{
  PunchNatOps *phase;
  g_autoptr (GResolver) resolver = NULL;

  if (check->turn->len == 0)
    return;
  resolver = g_resolver_get_default ();
  phase = punch_nat_ops_new (check, check->deadline);

  for (guint i = 0; i < check->turn->len; i++)
    {
      const PunchIceServer *s = check->turn->pdata[i];
      PunchNatCheckTurn *t = g_new0 (PunchNatCheckTurn, 1);
      Probe *p = g_new0 (Probe, 1);
      g_autoptr (GInetAddress) literal = g_inet_address_new_from_string (s->host);

      t->uri = punch_ice_server_to_uri (s);
      t->transport = s->transport;
      t->auth = "unknown";
      g_ptr_array_add (check->report->turns, t);
      punch_nat_check_progress (check, "turn", t->uri);
      p->phase = phase;
      p->server = punch_ice_server_copy (s);
      p->turn = t;
      punch_nat_ops_add (phase);
      if (literal)
        {
          int f = g_inet_address_get_family (literal) == G_SOCKET_FAMILY_IPV4 ? 4 : 6;

          if (check->family && f != check->family)
            {
              t->code = "unreachable";
              t->auth = "not-reached";
              t->message = g_strdup_printf ("%s is not an IPv%d address", s->host, check->family);
              probe_end (p);
              continue;
            }
          start_allocate (p, literal);
        }
      else
        g_resolver_lookup_by_name_async (resolver, s->host, phase->cancel, on_resolved, p);
    }
  punch_nat_ops_done (phase);
}
