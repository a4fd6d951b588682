/* punch-cmd-identity.c: `punch identity`, this host's key and its fingerprint
 *
 * Loads (or, the first time, creates) the key file with punch_identity_load() and prints
 * its fingerprint, as text or as one JSON document, from one field list (punch-output.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>

#include <punch.h>

#include "punch-cmd.h"
#include "punch-output.h"

static const char identity_description[]
    = "Prints this host's fingerprint: the SHA-256 of its public key, written\n"
      "\"sha-256 AB:CD:...\" (RFC 8122). The key itself stays in the key file and is\n"
      "never printed.\n"
      "\n"
      "Give the fingerprint to the peer you want to talk to, over a channel you trust\n"
      "(in person, a signed message, a chat you know is theirs). The peer then runs\n"
      "  punch connect --peer 'sha-256 AB:CD:...' ...\n"
      "or adds it to a known-peers file, and punch refuses the connection when the key\n"
      "on the other end is not this one, even if the signaling server lies. Without\n"
      "such a pin the connection is still encrypted, but the signaling server could\n"
      "put itself in the middle. See docs/security.md.\n"
      "\n"
      "The key file holds an ECDSA P-256 private key (PEM PKCS#8). Without --identity\n"
      "it is $XDG_CONFIG_HOME/punch/identity.pem (~/.config/punch/identity.pem). If the\n"
      "file does not exist it is created, with mode 0600 (and its directory 0700), and\n"
      "the output says \"created\". A key file that group or others can read or write,\n"
      "or that is not a regular file, is refused: fix it with `chmod 600 FILE`, or move\n"
      "it away to get a new key (your peers then need the new fingerprint).\n"
      "\n"
      "Examples:\n"
      "  punch identity\n"
      "  punch identity --identity ~/.config/punch/work.pem --json\n"
      "\n"
      "Output: text on stdout, or one JSON document with --json:\n"
      "  {\"fingerprint\": \"sha-256 ...\", \"key_file\": \"/path\", \"created\": false}\n"
      "and on failure {\"key_file\": ..., \"error\": {\"code\": ..., \"message\": ...}}.\n"
      "\n"
      "Exit codes: 0 ok, 1 the key file cannot be read, created or used (the message\n"
      "says why), 2 usage error.\n";

static int usage_error (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

static int
usage_error (const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, "punch identity: %s\nRun 'punch identity --help' for the options.\n", msg);
  return PUNCH_EXIT_USAGE;
}

int
punch_cmd_identity (int argc, char **argv)
{
  g_autofree char *file = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[]
      = { { "identity", 'i', 0, G_OPTION_ARG_FILENAME, &file,
            "The key file (default $XDG_CONFIG_HOME/punch/identity.pem)", "FILE" },
          { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON document", NULL },
          { NULL } };
  g_autoptr (GOptionContext) octx
      = g_option_context_new ("- print this host's fingerprint, for a peer's --peer");
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchIdentity) id = NULL;
  g_autoptr (PunchOutput) out = NULL;
  gboolean created = FALSE;

  g_set_prgname ("punch identity");
  g_option_context_add_main_entries (octx, entries, NULL);
  g_option_context_set_description (octx, identity_description);
  if (!g_option_context_parse (octx, &argc, &argv, &error))
    return usage_error ("%s", error->message);
  if (argc > 1)
    return usage_error ("unexpected argument '%s' (the key file is given with --identity)",
                        argv[1]);
  if (file != NULL && *file == '\0')
    return usage_error ("--identity needs a file name");
  if (file == NULL)
    file = punch_identity_default_path ();

  id = punch_identity_load (file, TRUE, &created, &error);
  out = punch_output_new_document (stdout, json);
  if (id == NULL)
    {
      if (!json)
        {
          fprintf (stderr, "punch identity: %s\n", error->message);
          return PUNCH_EXIT_FAILURE;
        }
      punch_output_begin (out, "identity");
      punch_output_string (out, "key_file", NULL, file);
      punch_output_error (out, punch_error_code_to_string (error->code), error->message);
      punch_output_end (out);
      return PUNCH_EXIT_FAILURE;
    }

  punch_output_begin (out, "identity");
  punch_output_string (out, "fingerprint", "fingerprint: %s\n",
                       punch_identity_get_fingerprint (id));
  punch_output_string (out, "key_file", "key file:    %s", file);
  punch_output_bool (out, "created", created ? " (created)" : NULL, created);
  punch_output_text (out, "\n\nA peer pins this host with:\n  punch connect --peer '");
  punch_output_text (out, punch_identity_get_fingerprint (id));
  punch_output_text (out, "' ...");
  punch_output_end (out);
  return PUNCH_EXIT_OK;
}
