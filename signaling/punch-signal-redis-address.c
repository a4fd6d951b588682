/* punch-signal-redis-address.c: the --redis URL
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-signal-redis-address.h"

#include <punch.h>
#include <string.h>

PunchSignalRedisAddress *
punch_signal_redis_address_copy (const PunchSignalRedisAddress *a)
{
  PunchSignalRedisAddress *copy = g_new0 (PunchSignalRedisAddress, 1);

  copy->host = g_strdup (a->host);
  copy->port = a->port;
  copy->path = g_strdup (a->path);
  copy->user = g_strdup (a->user);
  copy->password = g_strdup (a->password);
  copy->db = a->db;
  return copy;
}

void
punch_signal_redis_address_free (PunchSignalRedisAddress *address)
{
  if (address == NULL)
    return;
  g_free (address->host);
  g_free (address->path);
  g_free (address->user);
  if (address->password)
    explicit_bzero (address->password, strlen (address->password));
  g_free (address->password);
  g_free (address);
}

char *
punch_signal_redis_address_to_string (const PunchSignalRedisAddress *address)
{
  if (address->path)
    return g_strdup_printf ("unix:%s", address->path);
  if (strchr (address->host, ':'))
    return g_strdup_printf ("[%s]:%u", address->host, address->port);
  return g_strdup_printf ("%s:%u", address->host, address->port);
}

static gboolean
parse_db (const char *text, guint *db, GError **error)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 0, 1000000, &value, NULL))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "\"%s\" is not a Redis database number", text);
      return FALSE;
    }
  *db = (guint)value;
  return TRUE;
}

PunchSignalRedisAddress *
punch_signal_redis_address_parse (const char *url, GError **error)
{
  g_autoptr (PunchSignalRedisAddress) a = g_new0 (PunchSignalRedisAddress, 1);
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GError) local = NULL;
  const char *scheme, *path, *query;

  g_return_val_if_fail (url != NULL, NULL);
  uri = g_uri_parse (url, G_URI_FLAGS_HAS_PASSWORD, &local);
  if (uri == NULL)
    goto bad;
  scheme = g_uri_get_scheme (uri);
  path = g_uri_get_path (uri);
  query = g_uri_get_query (uri);
  if (g_uri_get_user (uri) && *g_uri_get_user (uri))
    a->user = g_strdup (g_uri_get_user (uri));
  if (g_uri_get_password (uri))
    a->password = g_strdup (g_uri_get_password (uri));
  if (g_ascii_strcasecmp (scheme, "unix") == 0)
    {
      if (path == NULL || path[0] != '/')
        goto bad;
      a->path = g_strdup (path);
      if (query && g_str_has_prefix (query, "db=") && !parse_db (query + 3, &a->db, error))
        return NULL;
    }
  else if (g_ascii_strcasecmp (scheme, "redis") == 0)
    {
      const char *host = g_uri_get_host (uri);

      if (host == NULL || *host == '\0')
        goto bad;
      a->host = g_strdup (host);
      a->port = g_uri_get_port (uri) > 0 ? (guint16)g_uri_get_port (uri) : 6379;
      if (path && path[0] == '/' && path[1] && !parse_db (path + 1, &a->db, error))
        return NULL;
    }
  else
    goto bad;
  return g_steal_pointer (&a);

bad:
  g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
               "cannot use Redis at \"%s\": expected redis://[:PASSWORD@]HOST[:PORT][/DB] "
               "or unix:///PATH/TO/SOCKET",
               url);
  return NULL;
}
