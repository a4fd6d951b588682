/* punch-signal-message.h: the messages of the punch-signal protocol (docs/signaling.md)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "punch.h"
#include "punch-signal-export.h"

G_BEGIN_DECLS

/**
 * PUNCH_SIGNAL_PROTOCOL_VERSION:
 *
 * The protocol version carried by `hello` and `welcome`.
 */
#define PUNCH_SIGNAL_PROTOCOL_VERSION 1

/**
 * PUNCH_SIGNAL_MAX_FRAME:
 *
 * The largest text frame either side accepts, in bytes.
 */
#define PUNCH_SIGNAL_MAX_FRAME (64 * 1024)

/**
 * PunchSignalMessageType:
 * @PUNCH_SIGNAL_MESSAGE_HELLO: client to server: join a room
 * @PUNCH_SIGNAL_MESSAGE_WELCOME: server to client: joined; our id, the peers, ICE servers
 * @PUNCH_SIGNAL_MESSAGE_PEER_JOINED: server to client: a peer came into the room
 * @PUNCH_SIGNAL_MESSAGE_PEER_LEFT: server to client: a peer left the room
 * @PUNCH_SIGNAL_MESSAGE_DESCRIPTION: relayed: ICE credentials and candidates
 * @PUNCH_SIGNAL_MESSAGE_CANDIDATE: relayed: one trickled candidate
 * @PUNCH_SIGNAL_MESSAGE_END_OF_CANDIDATES: relayed: no more candidates
 * @PUNCH_SIGNAL_MESSAGE_BYE: relayed: the sender is done
 * @PUNCH_SIGNAL_MESSAGE_ERROR: server to client: something we sent was refused
 *
 * The `type` member of a message; punch_signal_message_type_to_string() gives
 * its wire name.
 */
typedef enum
{
  PUNCH_SIGNAL_MESSAGE_HELLO,
  PUNCH_SIGNAL_MESSAGE_WELCOME,
  PUNCH_SIGNAL_MESSAGE_PEER_JOINED,
  PUNCH_SIGNAL_MESSAGE_PEER_LEFT,
  PUNCH_SIGNAL_MESSAGE_DESCRIPTION,
  PUNCH_SIGNAL_MESSAGE_CANDIDATE,
  PUNCH_SIGNAL_MESSAGE_END_OF_CANDIDATES,
  PUNCH_SIGNAL_MESSAGE_BYE,
  PUNCH_SIGNAL_MESSAGE_ERROR,
} PunchSignalMessageType;

/**
 * PunchSignalMessage:
 * @type: which message
 * @version: `hello` and `welcome`: the protocol version
 * @room: (nullable): `hello`: the room to join
 * @token: (nullable): `hello`: the room token
 * @id: (nullable): `welcome`: the id the server gave us; `peer-joined`, `peer-left`: that peer
 * @ice_servers: (nullable) (element-type PunchIceServer): `welcome`: STUN/TURN servers
 * @peers: (nullable): `welcome`: ids of the peers already in the room
 * @to: (nullable): relayed messages: the addressee; %NULL means every other peer
 * @from: (nullable): relayed messages: the sender, stamped by the server
 * @description: (nullable): `description`: credentials and candidates
 * @candidate: (nullable): `candidate`: a `candidate:…` line
 * @code: (nullable): `error`: a short stable code such as "room-full"
 * @message: (nullable): `error`: a sentence for humans
 * @resume: (nullable): `welcome`: a secret that lets this peer take its place
 *   back from a new connection; `hello`: that secret, to come back as the same
 *   peer (same id, no `peer-left`/`peer-joined` for the others)
 *
 * A plain boxed struct: the fields a type does not use are %NULL.
 * Parsing keeps only known fields, so relaying a parsed message never
 * forwards anything a client made up.
 */
typedef struct
{
  PunchSignalMessageType type;
  guint version;
  char *room;
  char *token;
  char *id;
  GPtrArray *ice_servers;
  GStrv peers;
  char *to;
  char *from;
  PunchDescription *description;
  char *candidate;
  char *code;
  char *message;
  char *resume;
} PunchSignalMessage;

#define PUNCH_TYPE_SIGNAL_MESSAGE (punch_signal_message_get_type ())
PUNCH_SIGNAL_EXPORT GType punch_signal_message_get_type (void);

/**
 * punch_signal_message_new:
 * @type: which message
 *
 * Returns: (transfer full): an empty message of @type
 */
PUNCH_SIGNAL_EXPORT PunchSignalMessage *punch_signal_message_new (PunchSignalMessageType type);
/**
 * punch_signal_message_new_error:
 * @code: a short stable code such as "room-full"
 * @format: printf-style format of the sentence for humans
 *
 * Returns: (transfer full): an `error` message
 */
PUNCH_SIGNAL_EXPORT PunchSignalMessage *punch_signal_message_new_error (const char *code,
                                                                        const char *format, ...)
    G_GNUC_PRINTF (2, 3);
/**
 * punch_signal_message_copy:
 * @msg: a message
 *
 * Returns: (transfer full): a deep copy of @msg
 */
PUNCH_SIGNAL_EXPORT PunchSignalMessage *punch_signal_message_copy (const PunchSignalMessage *msg);
/**
 * punch_signal_message_free:
 * @msg: (nullable) (transfer full): a message
 */
PUNCH_SIGNAL_EXPORT void punch_signal_message_free (PunchSignalMessage *msg);

/**
 * punch_signal_message_type_to_string:
 * @type: a message type
 *
 * Returns: (transfer none): the wire name, e.g. "end-of-candidates"
 */
PUNCH_SIGNAL_EXPORT const char *punch_signal_message_type_to_string (PunchSignalMessageType type);
/**
 * punch_signal_message_type_is_relayed:
 * @type: a message type
 *
 * Returns: %TRUE for the messages a peer sends to a peer: description,
 *   candidate, end-of-candidates, bye
 */
PUNCH_SIGNAL_EXPORT gboolean punch_signal_message_type_is_relayed (PunchSignalMessageType type);

/**
 * punch_signal_message_parse:
 * @text: one text frame; need not be nul-terminated
 * @len: its length in bytes
 * @wire_code: (out) (optional) (transfer none): on failure, the protocol's
 *   error code for it: "bad-json", "unknown-type", "missing-field" or "bad-field"
 *
 * A pure function, safe to fuzz. Unknown members are ignored; a known member
 * of the wrong type, or a value outside its limits, is an error.
 *
 * Returns: (transfer full) (nullable): the message, or %NULL with @error set
 *   (%PUNCH_ERROR_PROTOCOL)
 */
PUNCH_SIGNAL_EXPORT PunchSignalMessage *
punch_signal_message_parse (const char *text, gsize len, const char **wire_code, GError **error);

/**
 * punch_signal_message_to_json:
 * @msg: a message
 *
 * Returns: (transfer full): the message as one line of JSON
 */
PUNCH_SIGNAL_EXPORT char *punch_signal_message_to_json (const PunchSignalMessage *msg);

/**
 * punch_signal_name_validate:
 * @name: a peer id or a room name
 * @what: what it is, for the error message (e.g. "room name")
 *
 * Peer ids and room names: 1 to 64 characters from `[A-Za-z0-9_.-]`, not
 * starting with `.` (so a name is safe in logs, paths and the token).
 *
 * Returns: %TRUE when @name is valid, otherwise %FALSE with @error set
 *   (%PUNCH_ERROR_INVALID_ARGUMENT)
 */
PUNCH_SIGNAL_EXPORT gboolean punch_signal_name_validate (const char *name, const char *what,
                                                         GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchSignalMessage, punch_signal_message_free)

G_END_DECLS
