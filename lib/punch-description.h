/* punch-description.h: what one peer tells the other through signaling
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib-object.h>
#include "punch-export.h"
#include "punch-candidate.h"

G_BEGIN_DECLS

/**
 * PunchDescription:
 * @ufrag: the ICE username fragment (4 to 256 ice-chars)
 * @pwd: the ICE password (22 to 256 ice-chars)
 * @candidates: (element-type PunchCandidate): candidates known so far
 * @end_of_candidates: %TRUE when no more candidates will follow
 * @fingerprint: (nullable): the sender's key fingerprint in canonical RFC 8122 form,
 *   `sha-256 AB:CD:…` (see punch_fingerprint_normalize()); %NULL when not announced
 *
 * Its JSON-friendly form is a #GVariant of type `a{sv}`:
 * `{"ufrag": s, "pwd": s, "candidates": as, "end-of-candidates": b, "fingerprint": s}`
 * ("fingerprint" optional), which json-glib serializes as a plain JSON object. In SDP the
 * fingerprint is the RFC 8122 line `a=fingerprint:sha-256 AB:CD:…`. Both parsers accept
 * any form punch_fingerprint_normalize() does and store the canonical one.
 */
typedef struct
{
  char *ufrag;
  char *pwd;
  GPtrArray *candidates;
  gboolean end_of_candidates;
  char *fingerprint;
} PunchDescription;

#define PUNCH_TYPE_DESCRIPTION (punch_description_get_type ())
PUNCH_EXPORT GType punch_description_get_type (void);

/**
 * punch_description_new:
 * @ufrag: the ICE username fragment
 * @pwd: the ICE password
 *
 * Returns: (transfer full): a description with no candidates yet
 */
PUNCH_EXPORT PunchDescription *punch_description_new (const char *ufrag, const char *pwd);
/**
 * punch_description_copy:
 * @desc: a description
 *
 * Returns: (transfer full): a deep copy of @desc
 */
PUNCH_EXPORT PunchDescription *punch_description_copy (const PunchDescription *desc);
/**
 * punch_description_free:
 * @desc: (nullable) (transfer full): a description
 */
PUNCH_EXPORT void punch_description_free (PunchDescription *desc);

/**
 * punch_description_to_variant:
 * @desc: a description
 *
 * Returns: (transfer full): a floating-free `a{sv}` variant (see #PunchDescription)
 */
PUNCH_EXPORT GVariant *punch_description_to_variant (const PunchDescription *desc);
/**
 * punch_description_from_variant:
 * @variant: an `a{sv}` variant as punch_description_to_variant() makes it
 * @error: return location for a #GError
 *
 * A pure function.
 *
 * Returns: (transfer full) (nullable): the description, or %NULL with @error set
 */
PUNCH_EXPORT PunchDescription *punch_description_from_variant (GVariant *variant, GError **error);

/**
 * punch_description_to_sdp:
 * @desc: a description
 *
 * Returns: (transfer full): SDP attribute lines (`a=ice-ufrag:`, `a=ice-pwd:`,
 *   `a=fingerprint:` when set, `a=candidate:`, `a=end-of-candidates`), CRLF-separated
 */
PUNCH_EXPORT char *punch_description_to_sdp (const PunchDescription *desc);
/**
 * punch_description_parse_sdp:
 * @sdp: SDP attribute lines, as punch_description_to_sdp() writes them
 * @error: return location for a #GError
 *
 * A pure function.
 *
 * Returns: (transfer full) (nullable): the description, or %NULL with @error set
 */
PUNCH_EXPORT PunchDescription *punch_description_parse_sdp (const char *sdp, GError **error);

/**
 * punch_ice_credentials_validate:
 * @ufrag: the ICE username fragment
 * @pwd: the ICE password
 * @error: return location for a #GError
 *
 * Checks the RFC 8839 grammar: ufrag 4 to 256 ice-chars, pwd 22 to 256 ice-chars.
 *
 * Returns: %TRUE when both are valid, otherwise %FALSE with @error set
 */
PUNCH_EXPORT gboolean punch_ice_credentials_validate (const char *ufrag, const char *pwd,
                                                      GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchDescription, punch_description_free)

G_END_DECLS
