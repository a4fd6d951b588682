/* punch-stun.h: a small, strict STUN codec (private)
 *
 * RFC 8489 (and 5389) messages, with the RFC 5780 attributes that NAT
 * behaviour discovery needs (OTHER-ADDRESS, RESPONSE-ORIGIN, CHANGE-REQUEST).
 * Parsing never allocates: a PunchStunMessage points into the caller's
 * buffer, which must outlive it.
 *
 * RFC 3489 (classic STUN) answers are understood too: MAPPED-ADDRESS,
 * SOURCE-ADDRESS and CHANGED-ADDRESS, and, with PUNCH_STUN_PARSE_RFC3489,
 * headers without the magic cookie.
 *
 * Used by the NAT check (lib/punch-nat-check*.c) and the TURN diagnosis
 * (lib/punch-session-turn.c); unit-tested with the RFC 5769 vectors and
 * fuzzed by tests/fuzz/fuzz-stun.c. The address type is public
 * (punch-stun-address.h); the codec is not.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>
#include "punch-stun-address.h"

G_BEGIN_DECLS

#define PUNCH_STUN_HEADER_SIZE 20
#define PUNCH_STUN_MAGIC_COOKIE 0x2112A442u
#define PUNCH_STUN_TXID_SIZE 12
/* The largest message punch builds or accepts (a UDP datagram on any path). */
#define PUNCH_STUN_MAX_SIZE 1500

typedef enum
{
  PUNCH_STUN_METHOD_BINDING = 0x001,
  PUNCH_STUN_METHOD_ALLOCATE = 0x003,
  PUNCH_STUN_METHOD_REFRESH = 0x004,
} PunchStunMethod;

typedef enum
{
  PUNCH_STUN_CLASS_REQUEST = 0,
  PUNCH_STUN_CLASS_INDICATION = 1,
  PUNCH_STUN_CLASS_SUCCESS = 2,
  PUNCH_STUN_CLASS_ERROR = 3,
} PunchStunClass;

typedef enum
{
  PUNCH_STUN_ATTR_MAPPED_ADDRESS = 0x0001,
  PUNCH_STUN_ATTR_SOURCE_ADDRESS = 0x0004,  /* RFC 3489: where the answer was sent from */
  PUNCH_STUN_ATTR_CHANGED_ADDRESS = 0x0005, /* RFC 3489: the other IP and port */
  PUNCH_STUN_ATTR_CHANGE_REQUEST = 0x0003,
  PUNCH_STUN_ATTR_USERNAME = 0x0006,
  PUNCH_STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
  PUNCH_STUN_ATTR_ERROR_CODE = 0x0009,
  PUNCH_STUN_ATTR_LIFETIME = 0x000D,
  PUNCH_STUN_ATTR_REQUESTED_TRANSPORT = 0x0019,
  PUNCH_STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
  PUNCH_STUN_ATTR_REALM = 0x0014,
  PUNCH_STUN_ATTR_NONCE = 0x0015,
  PUNCH_STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
  PUNCH_STUN_ATTR_USERHASH = 0x001E,
  PUNCH_STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
  PUNCH_STUN_ATTR_PADDING = 0x0026,
  PUNCH_STUN_ATTR_RESPONSE_PORT = 0x0027,
  PUNCH_STUN_ATTR_SOFTWARE = 0x8022,
  PUNCH_STUN_ATTR_ALTERNATE_SERVER = 0x8023,
  PUNCH_STUN_ATTR_FINGERPRINT = 0x8028,
  PUNCH_STUN_ATTR_RESPONSE_ORIGIN = 0x802B,
  PUNCH_STUN_ATTR_OTHER_ADDRESS = 0x802C,
} PunchStunAttr;

/* CHANGE-REQUEST flags (RFC 5780 section 7.2) */
enum
{
  PUNCH_STUN_CHANGE_PORT = 0x2,
  PUNCH_STUN_CHANGE_IP = 0x4,
};

/* Present bits in PunchStunMessage.present */
enum
{
  PUNCH_STUN_HAS_MAPPED = 1 << 0,
  PUNCH_STUN_HAS_XOR_MAPPED = 1 << 1,
  PUNCH_STUN_HAS_OTHER_ADDRESS = 1 << 2,
  PUNCH_STUN_HAS_RESPONSE_ORIGIN = 1 << 3,
  PUNCH_STUN_HAS_ERROR_CODE = 1 << 4,
  PUNCH_STUN_HAS_INTEGRITY = 1 << 5,
  PUNCH_STUN_HAS_FINGERPRINT = 1 << 6,
  PUNCH_STUN_HAS_SOFTWARE = 1 << 7,
  PUNCH_STUN_HAS_USERNAME = 1 << 8,
  PUNCH_STUN_HAS_REALM = 1 << 9,
  PUNCH_STUN_HAS_NONCE = 1 << 10,
  PUNCH_STUN_HAS_CHANGE_REQUEST = 1 << 11,
  PUNCH_STUN_HAS_SOURCE_ADDRESS = 1 << 12,
  PUNCH_STUN_HAS_CHANGED_ADDRESS = 1 << 13,
};

/** A byte string inside the parsed buffer (not NUL-terminated). */
typedef struct
{
  const guint8 *data;
  gsize len;
} PunchStunBytes;

/**
 * PunchStunMessage:
 * The result of punch_stun_message_parse(). Only the first of each known
 * attribute counts (RFC 8489 section 14). @unknown_required holds the first
 * comprehension-required attribute types the codec does not know.
 */
typedef struct
{
  guint16 method;
  PunchStunClass klass;
  guint8 txid[PUNCH_STUN_TXID_SIZE];
  guint32 cookie;   /* the header's bytes 4..7: the magic cookie, or (RFC 3489) txid bytes */
  gboolean classic; /* RFC 3489 header, without the magic cookie */
  gsize length;     /* the whole message, header included */
  guint32 present;
  PunchStunAddress mapped;
  PunchStunAddress xor_mapped;
  PunchStunAddress other_address;
  PunchStunAddress response_origin;
  PunchStunAddress source_address;  /* RFC 3489 SOURCE-ADDRESS */
  PunchStunAddress changed_address; /* RFC 3489 CHANGED-ADDRESS */
  guint32 change_request;
  guint error_code; /* 300..699 */
  PunchStunBytes reason;
  PunchStunBytes software;
  PunchStunBytes username;
  PunchStunBytes realm;
  PunchStunBytes nonce;
  gsize integrity_offset; /* where the MESSAGE-INTEGRITY attribute starts */
  guint16 unknown_required[4];
  guint n_unknown_required;
} PunchStunMessage;

/* Why punch_stun_message_parse() rejected a datagram: PUNCH_ERROR_PROTOCOL
 * with one of these as a stable word at the start of the message. */
#define PUNCH_STUN_REJECT_SHORT "short"
#define PUNCH_STUN_REJECT_NOT_STUN "not-stun"
#define PUNCH_STUN_REJECT_MALFORMED "malformed"
#define PUNCH_STUN_REJECT_FINGERPRINT "bad-fingerprint"

/**
 * punch_stun_message_parse:
 * Strictly parses one whole STUN message: the datagram must be exactly the
 * message; the magic cookie, the length, every attribute's bounds and the
 * address families are checked; only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT may follow
 * MESSAGE-INTEGRITY; a FINGERPRINT that is present must match.
 *
 * Returns: %FALSE with @error (PUNCH_ERROR_PROTOCOL) when it is not a valid message
 */
gboolean punch_stun_message_parse (const guint8 *data, gsize len, PunchStunMessage *msg,
                                   GError **error);

typedef enum
{
  PUNCH_STUN_PARSE_DEFAULT = 0,
  /* also accept an RFC 3489 header without the magic cookie (its 16-byte
   * transaction id is @cookie then @txid); XOR-MAPPED-ADDRESS, meaningless
   * there, is then ignored */
  PUNCH_STUN_PARSE_RFC3489 = 1 << 0,
} PunchStunParseFlags;

/** punch_stun_message_parse() with @flags. */
gboolean punch_stun_message_parse_full (const guint8 *data, gsize len, PunchStunParseFlags flags,
                                        PunchStunMessage *msg, GError **error);

/**
 * PunchStunAnswer:
 * What a parsed message is to a Binding request of ours.
 */
typedef enum
{
  PUNCH_STUN_ANSWER_NONE,        /* a request or an indication: not an answer at all */
  PUNCH_STUN_ANSWER_WRONG_TXID,  /* an answer to another transaction */
  PUNCH_STUN_ANSWER_NOT_BINDING, /* an answer of another method */
  PUNCH_STUN_ANSWER_ERROR,       /* an error response */
  PUNCH_STUN_ANSWER_SUCCESS,     /* a success response; *mapped may still have no family */
} PunchStunAnswer;

/**
 * punch_stun_binding_answer:
 * @m: a parsed message
 * @txid: our request's transaction id
 * @mapped: (out): the XOR-MAPPED-ADDRESS of a success (else MAPPED-ADDRESS;
 *   family 0 when it has neither)
 * @why: (out) (transfer full) (nullable): for a wrong transaction, method or an
 *   error response, the words for it
 */
PunchStunAnswer punch_stun_binding_answer (const PunchStunMessage *m, const guint8 *txid,
                                           PunchStunAddress *mapped, char **why);

/**
 * punch_stun_bytes_to_text:
 * A text attribute (SOFTWARE, a reason phrase) as valid UTF-8 of at most
 * @max_bytes: trailing NULs are dropped (RFC 3489 servers count their
 * padding in the length), invalid sequences become U+FFFD. Control
 * characters are kept: escape them when showing the text (punch_text_escape()).
 *
 * Returns: (transfer full): the text; "" for an empty attribute
 */
char *punch_stun_bytes_to_text (const PunchStunBytes *bytes, gsize max_bytes);

/**
 * punch_stun_stream_frame:
 * @data: the bytes read so far from a stream
 * @len: how many
 *
 * Over TCP (RFC 8489 section 6.2.2) STUN messages follow one another with no
 * framing of their own: the header's length says where each ends. Only the
 * header is looked at; parse the message with punch_stun_message_parse().
 *
 * Returns: the length of the first message, header included, once @len holds
 *   all of it; 0 while more bytes are needed; -1 with @error
 *   (PUNCH_ERROR_PROTOCOL, "not-stun: …" or "malformed: …") when the stream
 *   is not STUN: the first two bits are not 0, there is no magic cookie, the
 *   length is not a multiple of 4, or the message would pass
 *   PUNCH_STUN_MAX_SIZE
 */
gssize punch_stun_stream_frame (const guint8 *data, gsize len, GError **error);

/** Returns: the reason word (PUNCH_STUN_REJECT_*) of a parse error */
const char *punch_stun_reject_reason (const GError *error);

/**
 * punch_stun_message_check_integrity:
 * @data: the buffer @msg was parsed from
 * @key: the HMAC key: the password (short-term) or punch_stun_long_term_key()
 *
 * Returns: %TRUE when @msg has a MESSAGE-INTEGRITY that matches
 */
gboolean punch_stun_message_check_integrity (const guint8 *data, const PunchStunMessage *msg,
                                             const guint8 *key, gsize key_len);

/** MD5(username ":" realm ":" password), RFC 8489 section 9.2.2 (no SASLprep) */
void punch_stun_long_term_key (const char *username, const char *realm, const char *password,
                               guint8 key[16]);

/** CRC-32 (ISO 3309, as zlib) */
guint32 punch_stun_crc32 (const guint8 *data, gsize len);

/** Fills @txid with random bytes. */
void punch_stun_random_txid (guint8 txid[PUNCH_STUN_TXID_SIZE]);

/* ---- building ----------------------------------------------------------- */

/** Returns: (transfer full): a header for @method / @klass with @txid and no attributes */
GByteArray *punch_stun_message_new (guint16 method, PunchStunClass klass,
                                    const guint8 txid[PUNCH_STUN_TXID_SIZE]);
/** Appends an attribute, padded to 4 bytes, and updates the header's length. */
void punch_stun_message_add (GByteArray *msg, guint16 type, const void *value, gsize len);
void punch_stun_message_add_u32 (GByteArray *msg, guint16 type, guint32 value);
/** MAPPED-ADDRESS style, or XOR-MAPPED-ADDRESS style when @xor. */
void punch_stun_message_add_address (GByteArray *msg, guint16 type, const PunchStunAddress *a,
                                     gboolean xor);
void punch_stun_message_add_integrity (GByteArray *msg, const guint8 *key, gsize key_len);
void punch_stun_message_add_fingerprint (GByteArray *msg);

G_END_DECLS
