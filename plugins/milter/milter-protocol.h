/* milter-protocol.h: the milter protocol (version 6, as Sendmail's libmilter
 * and Postfix speak it): packets the server (we, the MTA) sends, and the
 * filter's replies, parsed and checked. No I/O here: a test or a fuzzer
 * drives it with bytes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define MILTER_PROTOCOL_VERSION 6
/* body chunks and, by default, any packet's data */
#define MILTER_CHUNK_SIZE       65535
/* the largest reply accepted: a replaced body chunk or a header, with room */
#define MILTER_MAX_REPLY_SIZE   (1024 * 1024)

/* Commands, MTA to filter */
typedef enum {
  MILTER_CMD_ABORT     = 'A',
  MILTER_CMD_BODY      = 'B',
  MILTER_CMD_CONNECT   = 'C',
  MILTER_CMD_MACRO     = 'D',
  MILTER_CMD_BODYEOB   = 'E',
  MILTER_CMD_HELO      = 'H',
  MILTER_CMD_QUIT_NC   = 'K',
  MILTER_CMD_HEADER    = 'L',
  MILTER_CMD_MAIL      = 'M',
  MILTER_CMD_EOH       = 'N',
  MILTER_CMD_OPTNEG    = 'O',
  MILTER_CMD_QUIT      = 'Q',
  MILTER_CMD_RCPT      = 'R',
  MILTER_CMD_DATA      = 'T',
  MILTER_CMD_UNKNOWN   = 'U',
} MilterCommand;

/* Replies and actions, filter to MTA */
typedef enum {
  MILTER_REPLY_ADDRCPT     = '+',
  MILTER_REPLY_DELRCPT     = '-',
  MILTER_REPLY_ADDRCPT_PAR = '2',
  MILTER_REPLY_SHUTDOWN    = '4',
  MILTER_REPLY_ACCEPT      = 'a',
  MILTER_REPLY_REPLBODY    = 'b',
  MILTER_REPLY_CONTINUE    = 'c',
  MILTER_REPLY_DISCARD     = 'd',
  MILTER_REPLY_CHGFROM     = 'e',
  MILTER_REPLY_CONN_FAIL   = 'f',
  MILTER_REPLY_ADDHEADER   = 'h',
  MILTER_REPLY_INSHEADER   = 'i',
  MILTER_REPLY_SETSYMLIST  = 'l',
  MILTER_REPLY_CHGHEADER   = 'm',
  MILTER_REPLY_PROGRESS    = 'p',
  MILTER_REPLY_QUARANTINE  = 'q',
  MILTER_REPLY_REJECT      = 'r',
  MILTER_REPLY_SKIP        = 's',
  MILTER_REPLY_TEMPFAIL    = 't',
  MILTER_REPLY_REPLYCODE   = 'y',
  MILTER_REPLY_OPTNEG      = 'O',
} MilterReplyCode;

/* What a filter may do (SMFIF_*) */
typedef enum {
  MILTER_ACTION_ADDHDRS     = 0x001,
  MILTER_ACTION_CHGBODY     = 0x002,
  MILTER_ACTION_ADDRCPT     = 0x004,
  MILTER_ACTION_DELRCPT     = 0x008,
  MILTER_ACTION_CHGHDRS     = 0x010,
  MILTER_ACTION_QUARANTINE  = 0x020,
  MILTER_ACTION_CHGFROM     = 0x040,
  MILTER_ACTION_ADDRCPT_PAR = 0x080,
  MILTER_ACTION_SETSYMLIST  = 0x100,
} MilterActions;
#define MILTER_ACTIONS_ALL 0x1ff

/* Steps a filter skips, or answers without a reply (SMFIP_*) */
typedef enum {
  MILTER_STEP_NOCONNECT  = 0x00000001,
  MILTER_STEP_NOHELO     = 0x00000002,
  MILTER_STEP_NOMAIL     = 0x00000004,
  MILTER_STEP_NORCPT     = 0x00000008,
  MILTER_STEP_NOBODY     = 0x00000010,
  MILTER_STEP_NOHDRS     = 0x00000020,
  MILTER_STEP_NOEOH      = 0x00000040,
  MILTER_STEP_NR_HDR     = 0x00000080,
  MILTER_STEP_NOUNKNOWN  = 0x00000100,
  MILTER_STEP_NODATA     = 0x00000200,
  MILTER_STEP_SKIP       = 0x00000400,
  MILTER_STEP_RCPT_REJ   = 0x00000800,
  MILTER_STEP_NR_CONN    = 0x00001000,
  MILTER_STEP_NR_HELO    = 0x00002000,
  MILTER_STEP_NR_MAIL    = 0x00004000,
  MILTER_STEP_NR_RCPT    = 0x00008000,
  MILTER_STEP_NR_DATA    = 0x00010000,
  MILTER_STEP_NR_UNKN    = 0x00020000,
  MILTER_STEP_NR_EOH     = 0x00040000,
  MILTER_STEP_NR_BODY    = 0x00080000,
  MILTER_STEP_HDR_LEADSPC = 0x00100000,
} MilterSteps;
/* the steps this client implements (all of version 6, without the
 * larger-packet flags) */
#define MILTER_STEPS_ALL 0x001fffff

/* Stages of SETSYMLIST (sent within the OPTNEG reply) */
typedef enum {
  MILTER_STAGE_CONNECT = 0,
  MILTER_STAGE_HELO    = 1,
  MILTER_STAGE_MAIL    = 2,
  MILTER_STAGE_RCPT    = 3,
  MILTER_STAGE_DATA    = 4,
  MILTER_STAGE_EOM     = 5,
  MILTER_STAGE_EOH     = 6,
  MILTER_N_STAGES      = 7,
} MilterStage;

/* ---- Encoding: each appends one packet to @out ---- */

void milter_encode_optneg  (GByteArray          *out,
                            guint32              version,
                            guint32              actions,
                            guint32              steps);
/* @names and @values: as many of each; a NULL value is sent as "" */
void milter_encode_macros  (GByteArray          *out,
                            MilterCommand        stage_command,
                            const char * const  *names,
                            const char * const  *values,
                            guint                n);
/* @address: NULL (unknown family) or a GInetSocketAddress/GUnixSocketAddress */
void milter_encode_connect (GByteArray          *out,
                            const char          *hostname,
                            GSocketAddress      *address);
/* HELO, UNKNOWN: one string */
void milter_encode_string  (GByteArray          *out,
                            MilterCommand        command,
                            const char          *text);
/* MAIL, RCPT: "<address>" then ESMTP arguments, each NUL-terminated */
void milter_encode_args    (GByteArray          *out,
                            MilterCommand        command,
                            const char          *address,
                            const char * const  *args);
void milter_encode_header  (GByteArray          *out,
                            const char          *name,
                            const char          *value);
void milter_encode_body    (GByteArray          *out,
                            const guint8        *data,
                            gsize                len);
/* DATA, EOH, BODYEOB, ABORT, QUIT, QUIT_NC: no data */
void milter_encode_empty   (GByteArray          *out,
                            MilterCommand        command);

/* ---- Decoding ---- */

typedef struct {
  MilterReplyCode  code;
  /* REPLYCODE: the whole reply ("550 5.7.1 text", lines joined by CRLF);
   * QUARANTINE: the reason; header actions: the name; ADDRCPT(_PAR),
   * DELRCPT, CHGFROM: the address */
  const char      *text;
  /* header actions: the value (CHGHEADER: "" deletes); ADDRCPT_PAR,
   * CHGFROM: the ESMTP arguments, or NULL */
  const char      *value;
  /* INSHEADER: the position (0: first); CHGHEADER: which occurrence
   * (1: the first) */
  guint32          index;
  /* REPLBODY: a chunk of the new body */
  const guint8    *data;
  gsize            len;
  /* OPTNEG: what the filter asks for */
  guint32          version;
  guint32          actions;
  guint32          steps;
  /* SETSYMLIST: the stage and its space-separated macro names */
  guint32          stage;
  /* OPTNEG: the macros the filter asks for at each stage (space-separated
   * names, "{name}" or a letter), NULL for the defaults */
  const char      *symlists[MILTER_N_STAGES];
  /* REPLYCODE: the SMTP code (4xx or 5xx) */
  guint            smtp_code;
} MilterReply;

/* Collects replies from a byte stream. */
typedef struct _MilterReader MilterReader;

MilterReader *milter_reader_new   (gsize          max_size);
void          milter_reader_free  (MilterReader  *self);
void          milter_reader_feed  (MilterReader  *self,
                                   const guint8  *data,
                                   gsize          len);
/* TRUE and @reply filled (its strings and data point into the reader, valid
 * until the next call) when a whole reply is there; FALSE with @error unset
 * when more bytes are needed; FALSE with @error for a packet that is too
 * large, empty, or not a well-formed reply: the conversation cannot go on. */
gboolean      milter_reader_next  (MilterReader  *self,
                                   MilterReply   *reply,
                                   GError       **error);
/* bytes fed and not yet taken */
gsize         milter_reader_pending (MilterReader *self);

/* Checks one reply packet (@code and its data): used by the reader. */
gboolean      milter_reply_parse  (guint8         code,
                                   const guint8  *data,
                                   gsize          len,
                                   MilterReply   *reply,
                                   GError       **error);

const char   *milter_reply_code_name (MilterReplyCode code);

G_END_DECLS
