/* punch-description.c: credentials plus candidates, as SDP lines or a GVariant
 *
 * SPDX-License-Identifier: MIT
 */
#include "punch-description.h"
#include "punch-error.h"
#include "punch-identity.h"

#include <string.h>

G_DEFINE_BOXED_TYPE (PunchDescription, punch_description, punch_description_copy,
                     punch_description_free)

#define MAX_SDP (64 * 1024)
#define MAX_CANDIDATES 256

static gboolean
valid_ice_chars (const char *s, gsize min, gsize max)
{
  gsize len = strnlen (s, max + 1);

  if (len < min || len > max)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (s[i]) && s[i] != '+' && s[i] != '/')
      return FALSE;
  return TRUE;
}

gboolean
punch_ice_credentials_validate (const char *ufrag, const char *pwd, GError **error)
{
  if (ufrag == NULL || !valid_ice_chars (ufrag, 4, 256))
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "invalid ICE username fragment: it must be 4 to 256 characters "
                           "from [A-Za-z0-9+/]");
      return FALSE;
    }
  if (pwd == NULL || !valid_ice_chars (pwd, 22, 256))
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "invalid ICE password: it must be 22 to 256 characters "
                           "from [A-Za-z0-9+/]");
      return FALSE;
    }
  return TRUE;
}

PunchDescription *
punch_description_new (const char *ufrag, const char *pwd)
{
  PunchDescription *desc = g_new0 (PunchDescription, 1);

  desc->ufrag = g_strdup (ufrag);
  desc->pwd = g_strdup (pwd);
  desc->candidates = g_ptr_array_new_with_free_func ((GDestroyNotify)punch_candidate_free);
  return desc;
}

PunchDescription *
punch_description_copy (const PunchDescription *desc)
{
  PunchDescription *copy;

  g_return_val_if_fail (desc != NULL, NULL);
  copy = punch_description_new (desc->ufrag, desc->pwd);
  for (guint i = 0; i < desc->candidates->len; i++)
    g_ptr_array_add (copy->candidates, punch_candidate_copy (desc->candidates->pdata[i]));
  copy->end_of_candidates = desc->end_of_candidates;
  copy->fingerprint = g_strdup (desc->fingerprint);
  return copy;
}

void
punch_description_free (PunchDescription *desc)
{
  if (desc == NULL)
    return;
  g_free (desc->ufrag);
  g_free (desc->pwd);
  g_ptr_array_unref (desc->candidates);
  g_free (desc->fingerprint);
  g_free (desc);
}

GVariant *
punch_description_to_variant (const PunchDescription *desc)
{
  GVariantBuilder dict, cands;

  g_return_val_if_fail (desc != NULL, NULL);

  g_variant_builder_init (&cands, G_VARIANT_TYPE_STRING_ARRAY);
  for (guint i = 0; i < desc->candidates->len; i++)
    {
      g_autofree char *line = punch_candidate_to_string (desc->candidates->pdata[i]);
      g_variant_builder_add (&cands, "s", line);
    }
  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&dict, "{sv}", "ufrag",
                         g_variant_new_string (desc->ufrag ? desc->ufrag : ""));
  g_variant_builder_add (&dict, "{sv}", "pwd", g_variant_new_string (desc->pwd ? desc->pwd : ""));
  g_variant_builder_add (&dict, "{sv}", "candidates", g_variant_builder_end (&cands));
  g_variant_builder_add (&dict, "{sv}", "end-of-candidates",
                         g_variant_new_boolean (desc->end_of_candidates));
  if (desc->fingerprint)
    g_variant_builder_add (&dict, "{sv}", "fingerprint", g_variant_new_string (desc->fingerprint));
  return g_variant_ref_sink (g_variant_builder_end (&dict));
}

PunchDescription *
punch_description_from_variant (GVariant *variant, GError **error)
{
  g_autoptr (PunchDescription) desc = NULL;
  const char *ufrag = NULL, *pwd = NULL;
  g_autoptr (GVariant) cands = NULL;
  g_autoptr (GVariant) fp = NULL;
  gboolean eoc = FALSE;

  g_return_val_if_fail (variant != NULL, NULL);

  if (!g_variant_is_of_type (variant, G_VARIANT_TYPE_VARDICT))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "a description must be a dictionary (a{sv}), not %s",
                   g_variant_get_type_string (variant));
      return NULL;
    }
  if (!g_variant_lookup (variant, "ufrag", "&s", &ufrag)
      || !g_variant_lookup (variant, "pwd", "&s", &pwd))
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "a description needs \"ufrag\" and \"pwd\" strings");
      return NULL;
    }
  if (!punch_ice_credentials_validate (ufrag, pwd, error))
    return NULL;

  desc = punch_description_new (ufrag, pwd);
  cands = g_variant_lookup_value (variant, "candidates", NULL);
  if (cands)
    {
      GVariantIter iter;

      if (!g_variant_is_of_type (cands, G_VARIANT_TYPE_ARRAY))
        {
          g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                               "\"candidates\" must be an array of candidate strings");
          return NULL;
        }
      if (g_variant_n_children (cands) > MAX_CANDIDATES)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                       "a description holds at most %d candidates", MAX_CANDIDATES);
          return NULL;
        }
      g_variant_iter_init (&iter, cands);
      for (;;)
        {
          g_autoptr (GVariant) child = g_variant_iter_next_value (&iter);
          g_autoptr (GVariant) inner = NULL;
          PunchCandidate *c;

          if (child == NULL)
            break;
          if (g_variant_is_of_type (child, G_VARIANT_TYPE_VARIANT))
            inner = g_variant_get_variant (child);
          else
            inner = g_variant_ref (child);
          if (!g_variant_is_of_type (inner, G_VARIANT_TYPE_STRING))
            {
              g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                                   "\"candidates\" must be an array of candidate strings");
              return NULL;
            }
          c = punch_candidate_parse (g_variant_get_string (inner, NULL), error);
          if (c == NULL)
            return NULL;
          g_ptr_array_add (desc->candidates, c);
        }
    }
  if (g_variant_lookup (variant, "end-of-candidates", "b", &eoc))
    desc->end_of_candidates = eoc;
  fp = g_variant_lookup_value (variant, "fingerprint", NULL);
  if (fp)
    {
      if (g_variant_is_of_type (fp, G_VARIANT_TYPE_VARIANT))
        {
          GVariant *inner = g_variant_get_variant (fp);
          g_variant_unref (fp);
          fp = inner;
        }
      if (!g_variant_is_of_type (fp, G_VARIANT_TYPE_STRING))
        {
          g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                               "\"fingerprint\" must be a string such as \"sha-256 AB:CD:…\"");
          return NULL;
        }
      desc->fingerprint = punch_fingerprint_normalize (g_variant_get_string (fp, NULL), error);
      if (desc->fingerprint == NULL)
        return NULL;
    }
  return g_steal_pointer (&desc);
}

char *
punch_description_to_sdp (const PunchDescription *desc)
{
  GString *s;

  g_return_val_if_fail (desc != NULL, NULL);

  s = g_string_new (NULL);
  g_string_append_printf (s, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", desc->ufrag, desc->pwd);
  if (desc->fingerprint)
    g_string_append_printf (s, "a=fingerprint:%s\r\n", desc->fingerprint);
  for (guint i = 0; i < desc->candidates->len; i++)
    {
      g_autofree char *line = punch_candidate_to_string (desc->candidates->pdata[i]);
      g_string_append_printf (s, "a=%s\r\n", line);
    }
  if (desc->end_of_candidates)
    g_string_append (s, "a=end-of-candidates\r\n");
  return g_string_free (s, FALSE);
}

PunchDescription *
punch_description_parse_sdp (const char *sdp, GError **error)
{
  g_auto (GStrv) lines = NULL;
  g_autoptr (PunchDescription) desc = NULL;
  g_autoptr (GPtrArray) cands = NULL;
  g_autofree char *fingerprint = NULL;
  const char *ufrag = NULL, *pwd = NULL;
  gboolean eoc = FALSE;

  g_return_val_if_fail (sdp != NULL, NULL);

  if (strnlen (sdp, MAX_SDP + 1) > MAX_SDP)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                   "a description is at most %d bytes", MAX_SDP);
      return NULL;
    }
  cands = g_ptr_array_new_with_free_func ((GDestroyNotify)punch_candidate_free);
  lines = g_strsplit (sdp, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      char *line = lines[i];
      gsize len = strlen (line);

      if (len > 0 && line[len - 1] == '\r')
        line[len - 1] = '\0';
      if (line[0] == '\0')
        continue;
      if (g_str_has_prefix (line, "a=ice-ufrag:"))
        ufrag = line + strlen ("a=ice-ufrag:");
      else if (g_str_has_prefix (line, "a=ice-pwd:"))
        pwd = line + strlen ("a=ice-pwd:");
      else if (g_str_has_prefix (line, "a=candidate:"))
        {
          PunchCandidate *c;
          if (cands->len >= MAX_CANDIDATES)
            {
              g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "a description holds at most %d candidates", MAX_CANDIDATES);
              return NULL;
            }
          c = punch_candidate_parse (line, error);
          if (c == NULL)
            {
              g_prefix_error (error, "line %u: ", i + 1);
              return NULL;
            }
          g_ptr_array_add (cands, c);
        }
      else if (g_str_has_prefix (line, "a=fingerprint:"))
        {
          if (fingerprint != NULL)
            {
              g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_INVALID_ARGUMENT,
                           "line %u: a second a=fingerprint line (a peer has one key)", i + 1);
              return NULL;
            }
          fingerprint = punch_fingerprint_normalize (line + strlen ("a=fingerprint:"), error);
          if (fingerprint == NULL)
            {
              g_prefix_error (error, "line %u: ", i + 1);
              return NULL;
            }
        }
      else if (strcmp (line, "a=end-of-candidates") == 0)
        eoc = TRUE;
      /* other SDP lines are not ours and are ignored */
    }
  if (!punch_ice_credentials_validate (ufrag, pwd, error))
    return NULL;
  desc = punch_description_new (ufrag, pwd);
  g_ptr_array_extend_and_steal (desc->candidates, g_steal_pointer (&cands));
  desc->end_of_candidates = eoc;
  desc->fingerprint = g_steal_pointer (&fingerprint);
  return g_steal_pointer (&desc);
}
