/* test-signal-redis-address.c: the --redis URL forms punch-signal accepts, and those it refuses
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <punch.h>
#include <punch-signal-redis-address.h>

#include "punch-test-util.h"

typedef struct
{
  PunchSignalRedisAddress *address;
  GError *error;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->address = NULL;
  f->error = NULL;
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  punch_signal_redis_address_free (f->address);
  g_clear_error (&f->error);
}

typedef struct
{
  const char *url;
  const char *host;
  guint16 port;
  const char *path;
  const char *user;
  const char *password;
  guint db;
  const char *display;
} Good;

static const Good goods[] = {
  { "redis://127.0.0.1", "127.0.0.1", 6379, NULL, NULL, NULL, 0, "127.0.0.1:6379" },
  { "redis://10.0.0.5:6380/3", "10.0.0.5", 6380, NULL, NULL, NULL, 3, "10.0.0.5:6380" },
  { "redis://:s%40cret@redis.internal:7000", "redis.internal", 7000, NULL, NULL, "s@cret", 0,
    "redis.internal:7000" },
  { "redis://punch:pw@[::1]:6379/1", "::1", 6379, NULL, "punch", "pw", 1, "[::1]:6379" },
  { "unix:///run/redis/redis.sock", NULL, 0, "/run/redis/redis.sock", NULL, NULL, 0,
    "unix:/run/redis/redis.sock" },
  { "unix://:pw@/tmp/r.sock?db=2", NULL, 0, "/tmp/r.sock", NULL, "pw", 2, "unix:/tmp/r.sock" },
};

static void
test_accepts (Fixture *f, gconstpointer data)
{
  const Good *g = data;
  g_autofree char *display = NULL;

  f->address = punch_signal_redis_address_parse (g->url, &f->error);
  g_assert_no_error (f->error);
  g_assert_nonnull (f->address);
  g_assert_cmpstr (f->address->host, ==, g->host);
  g_assert_cmpuint (f->address->port, ==, g->port);
  g_assert_cmpstr (f->address->path, ==, g->path);
  g_assert_cmpstr (f->address->user, ==, g->user);
  g_assert_cmpstr (f->address->password, ==, g->password);
  g_assert_cmpuint (f->address->db, ==, g->db);
  display = punch_signal_redis_address_to_string (f->address);
  g_assert_cmpstr (display, ==, g->display);
  /* what is logged never holds the password */
  g_assert_true (g->password == NULL || strstr (display, g->password) == NULL);
}

static const char *const bads[] = {
  "",
  "localhost:6379",
  "http://127.0.0.1:6379",
  "redis://",
  "redis:///0",
  "unix://",
  "unix:relative.sock",
  "redis://127.0.0.1:6379/x",
  "unix:///tmp/r.sock?db=-1",
};

static void
test_refuses (Fixture *f, gconstpointer data)
{
  f->address = punch_signal_redis_address_parse (data, &f->error);
  g_assert_null (f->address);
  g_assert_error (f->error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (f->error->message, "Redis"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (goods); i++)
    {
      g_autofree char *path = g_strdup_printf ("/punch/signal/redis-address/accepts/%u", i);
      g_test_add (path, Fixture, &goods[i], fixture_set_up, test_accepts, fixture_tear_down);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bads); i++)
    {
      g_autofree char *path = g_strdup_printf ("/punch/signal/redis-address/refuses/%u", i);
      g_test_add (path, Fixture, bads[i], fixture_set_up, test_refuses, fixture_tear_down);
    }
  return g_test_run ();
}
