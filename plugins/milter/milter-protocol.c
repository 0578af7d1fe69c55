/* milter-protocol.c: milter packets, encoded and parsed
 *
 * A packet is a 32-bit length in network byte order (counting the command
 * byte and the data), a command or reply byte, then the data: strings are
 * NUL-terminated, integers 32-bit in network byte order (a port: 16-bit).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "milter-protocol.h"

/* ------------------------------------------------------------------------ */
/* Encoding                                                                 */

static void
put_u32 (GByteArray *out,
         guint32     value)
{
  guint32 be = GUINT32_TO_BE (value);

  g_byte_array_append (out, (const guint8 *) &be, 4);
}

static void
put_string (GByteArray *out,
            const char *text)
{
  if (text == NULL)
    text = "";
  g_byte_array_append (out, (const guint8 *) text, strlen (text) + 1);
}

/* Starts a packet: returns where its length goes, filled by packet_end() */
static guint
packet_begin (GByteArray    *out,
              MilterCommand  command)
{
  guint start = out->len;
  guint8 code = command;

  put_u32 (out, 0);
  g_byte_array_append (out, &code, 1);
  return start;
}

static void
packet_end (GByteArray *out,
            guint       start)
{
  guint32 be = GUINT32_TO_BE (out->len - start - 4);

  memcpy (out->data + start, &be, 4);
}

void
milter_encode_optneg (GByteArray *out,
                      guint32     version,
                      guint32     actions,
                      guint32     steps)
{
  guint start = packet_begin (out, MILTER_CMD_OPTNEG);

  put_u32 (out, version);
  put_u32 (out, actions);
  put_u32 (out, steps);
  packet_end (out, start);
}

void
milter_encode_macros (GByteArray         *out,
                      MilterCommand       stage_command,
                      const char * const *names,
                      const char * const *values,
                      guint               n)
{
  guint start = packet_begin (out, MILTER_CMD_MACRO);
  guint8 code = stage_command;

  g_byte_array_append (out, &code, 1);
  for (guint i = 0; i < n; i++)
    {
      put_string (out, names[i]);
      put_string (out, values[i]);
    }
  packet_end (out, start);
}

void
milter_encode_connect (GByteArray     *out,
                       const char     *hostname,
                       GSocketAddress *address)
{
  guint start = packet_begin (out, MILTER_CMD_CONNECT);
  guint8 family = 'U';   /* unknown: nothing follows */

  put_string (out, hostname);
  if (G_IS_INET_SOCKET_ADDRESS (address))
    {
      GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);
      GInetAddress *ip = g_inet_socket_address_get_address (inet);
      g_autofree char *text = g_inet_address_to_string (ip);
      guint16 port = GUINT16_TO_BE (g_inet_socket_address_get_port (inet));

      family = g_inet_address_get_family (ip) == G_SOCKET_FAMILY_IPV6 ? '6' : '4';
      g_byte_array_append (out, &family, 1);
      g_byte_array_append (out, (const guint8 *) &port, 2);
      if (family == '6')
        {
          /* as Sendmail and Postfix send it */
          g_autofree char *prefixed = g_strconcat ("IPv6:", text, NULL);
          put_string (out, prefixed);
        }
      else
        put_string (out, text);
    }
  else if (G_IS_UNIX_SOCKET_ADDRESS (address))
    {
      guint16 port = 0;

      family = 'L';
      g_byte_array_append (out, &family, 1);
      g_byte_array_append (out, (const guint8 *) &port, 2);
      put_string (out, g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (address)));
    }
  else
    g_byte_array_append (out, &family, 1);
  packet_end (out, start);
}

void
milter_encode_string (GByteArray    *out,
                      MilterCommand  command,
                      const char    *text)
{
  guint start = packet_begin (out, command);

  put_string (out, text);
  packet_end (out, start);
}

void
milter_encode_args (GByteArray         *out,
                    MilterCommand       command,
                    const char         *address,
                    const char * const *args)
{
  guint start = packet_begin (out, command);
  g_autofree char *path = g_strconcat ("<", address ? address : "", ">", NULL);

  put_string (out, path);
  for (gsize i = 0; args != NULL && args[i] != NULL; i++)
    put_string (out, args[i]);
  packet_end (out, start);
}

void
milter_encode_header (GByteArray *out,
                      const char *name,
                      const char *value)
{
  guint start = packet_begin (out, MILTER_CMD_HEADER);

  put_string (out, name);
  put_string (out, value);
  packet_end (out, start);
}

void
milter_encode_body (GByteArray   *out,
                    const guint8 *data,
                    gsize         len)
{
  guint start;

  g_return_if_fail (len <= MILTER_CHUNK_SIZE);
  start = packet_begin (out, MILTER_CMD_BODY);
  g_byte_array_append (out, data, len);
  packet_end (out, start);
}

void
milter_encode_empty (GByteArray    *out,
                     MilterCommand  command)
{
  packet_end (out, packet_begin (out, command));
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */

static gboolean
bad_reply (GError    **error,
           guint8      code,
           const char *why)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "malformed %s reply: %s",
               milter_reply_code_name (code), why);
  return FALSE;
}

/* A NUL-terminated string at *@pos within @len; moves past it. */
static const char *
take_string (const guint8 *data,
             gsize         len,
             gsize        *pos)
{
  const guint8 *nul;

  if (*pos >= len)
    return NULL;
  nul = memchr (data + *pos, '\0', len - *pos);
  if (nul == NULL)
    return NULL;
  const char *s = (const char *) data + *pos;
  *pos = nul - data + 1;
  return s;
}

static gboolean
take_u32 (const guint8 *data,
          gsize         len,
          gsize        *pos,
          guint32      *value)
{
  guint32 be;

  if (len - *pos < 4)
    return FALSE;
  memcpy (&be, data + *pos, 4);
  *value = GUINT32_FROM_BE (be);
  *pos += 4;
  return TRUE;
}

/* A header name: printable ASCII but ':' (RFC 5322 ftext), not empty */
static gboolean
is_header_name (const char *s)
{
  if (*s == '\0')
    return FALSE;
  for (; *s; s++)
    if ((guchar) *s < 33 || (guchar) *s > 126 || *s == ':')
      return FALSE;
  return TRUE;
}

/* A header value may fold (CRLF or LF followed by white space) but has no
 * other line break and no NUL (the NUL ends it). */
static gboolean
is_header_value (const char *s)
{
  for (; *s; s++)
    {
      if (*s == '\r' && s[1] == '\n')
        s++;
      if (*s == '\n' || *s == '\r')
        {
          if (s[1] != ' ' && s[1] != '\t')
            return FALSE;
        }
    }
  return TRUE;
}

/* "550 5.7.1 text", or lines "550-..." joined by CRLF with the last "550 ":
 * a 4xx or 5xx code, the same on every line, printable text. */
static gboolean
parse_replycode (const char *text,
                 guint      *smtp_code)
{
  const char *line = text;
  guint code = 0;

  for (;;)
    {
      const char *end = strstr (line, "\r\n");
      gsize line_len = end ? (gsize) (end - line) : strlen (line);
      guint this_code;

      if (line_len < 3 || !g_ascii_isdigit (line[0]) || !g_ascii_isdigit (line[1]) ||
          !g_ascii_isdigit (line[2]) || (line[0] != '4' && line[0] != '5'))
        return FALSE;
      this_code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
      if (code != 0 && this_code != code)
        return FALSE;
      code = this_code;
      if (line_len > 3 && line[3] != ' ' && line[3] != '-')
        return FALSE;
      /* a continuation mark on every line but the last, and on no other */
      if ((end != NULL) != (line_len > 3 && line[3] == '-'))
        return FALSE;
      for (gsize i = 4; i < line_len; i++)
        if ((guchar) line[i] < 32 || line[i] == 127)
          return FALSE;
      if (end == NULL)
        break;
      line = end + 2;
    }
  *smtp_code = code;
  return TRUE;
}

gboolean
milter_reply_parse (guint8         code,
                    const guint8  *data,
                    gsize          len,
                    MilterReply   *reply,
                    GError       **error)
{
  gsize pos = 0;

  memset (reply, 0, sizeof *reply);
  reply->code = code;

  switch (code)
    {
    case MILTER_REPLY_ACCEPT:
    case MILTER_REPLY_CONTINUE:
    case MILTER_REPLY_DISCARD:
    case MILTER_REPLY_REJECT:
    case MILTER_REPLY_TEMPFAIL:
    case MILTER_REPLY_PROGRESS:
    case MILTER_REPLY_SKIP:
    case MILTER_REPLY_SHUTDOWN:
    case MILTER_REPLY_CONN_FAIL:
      /* no data expected; some filters send a stray byte: ignored */
      return TRUE;

    case MILTER_REPLY_OPTNEG:
      if (!take_u32 (data, len, &pos, &reply->version) ||
          !take_u32 (data, len, &pos, &reply->actions) ||
          !take_u32 (data, len, &pos, &reply->steps))
        return bad_reply (error, code, "shorter than 12 bytes");
      /* then the macros the filter wants, per stage: (stage, "names") */
      while (pos < len)
        {
          guint32 stage;
          const char *names;

          if (!take_u32 (data, len, &pos, &stage) || stage >= MILTER_N_STAGES)
            return bad_reply (error, code, "a macro list for an unknown stage");
          names = take_string (data, len, &pos);
          if (names == NULL)
            return bad_reply (error, code, "an unterminated macro list");
          if (reply->symlists[stage] != NULL)
            return bad_reply (error, code, "two macro lists for one stage");
          reply->symlists[stage] = names;
        }
      return TRUE;

    case MILTER_REPLY_REPLYCODE:
      reply->text = take_string (data, len, &pos);
      if (reply->text == NULL)
        return bad_reply (error, code, "no terminating NUL");
      if (!parse_replycode (reply->text, &reply->smtp_code))
        return bad_reply (error, code, "not a 4xx or 5xx SMTP reply");
      return TRUE;

    case MILTER_REPLY_QUARANTINE:
      reply->text = take_string (data, len, &pos);
      if (reply->text == NULL)
        return bad_reply (error, code, "no terminating NUL");
      return TRUE;

    case MILTER_REPLY_INSHEADER:
    case MILTER_REPLY_CHGHEADER:
      if (!take_u32 (data, len, &pos, &reply->index))
        return bad_reply (error, code, "no index");
      G_GNUC_FALLTHROUGH;
    case MILTER_REPLY_ADDHEADER:
      reply->text = take_string (data, len, &pos);
      reply->value = take_string (data, len, &pos);
      if (reply->text == NULL || reply->value == NULL)
        return bad_reply (error, code, "no name and value");
      if (!is_header_name (reply->text))
        return bad_reply (error, code, "not a header name");
      if (!is_header_value (reply->value))
        return bad_reply (error, code, "a line break in the header value");
      if (code == MILTER_REPLY_CHGHEADER && reply->index == 0)
        reply->index = 1;   /* libmilter's filters send 0 for the first too */
      return TRUE;

    case MILTER_REPLY_ADDRCPT:
    case MILTER_REPLY_DELRCPT:
    case MILTER_REPLY_ADDRCPT_PAR:
    case MILTER_REPLY_CHGFROM:
      reply->text = take_string (data, len, &pos);
      if (reply->text == NULL)
        return bad_reply (error, code, "no address");
      if (code == MILTER_REPLY_ADDRCPT_PAR || code == MILTER_REPLY_CHGFROM)
        {
          reply->value = take_string (data, len, &pos);
          if (reply->value != NULL && *reply->value == '\0')
            reply->value = NULL;
        }
      for (const char *s = reply->text; *s; s++)
        if ((guchar) *s < 32 || *s == 127)
          return bad_reply (error, code, "a control character in the address");
      for (const char *s = reply->value; s != NULL && *s; s++)
        if ((guchar) *s < 32 || *s == 127)
          return bad_reply (error, code, "a control character in the arguments");
      return TRUE;

    case MILTER_REPLY_REPLBODY:
      reply->data = data;
      reply->len = len;
      return TRUE;

    case MILTER_REPLY_SETSYMLIST:
      if (!take_u32 (data, len, &pos, &reply->stage))
        return bad_reply (error, code, "no stage");
      if (reply->stage >= MILTER_N_STAGES)
        return bad_reply (error, code, "unknown stage");
      reply->text = take_string (data, len, &pos);
      if (reply->text == NULL)
        return bad_reply (error, code, "no macro list");
      return TRUE;

    default:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "unknown reply code 0x%02x", code);
      return FALSE;
    }
}

const char *
milter_reply_code_name (MilterReplyCode code)
{
  switch (code)
    {
    case MILTER_REPLY_ADDRCPT: return "ADDRCPT";
    case MILTER_REPLY_DELRCPT: return "DELRCPT";
    case MILTER_REPLY_ADDRCPT_PAR: return "ADDRCPT_PAR";
    case MILTER_REPLY_SHUTDOWN: return "SHUTDOWN";
    case MILTER_REPLY_ACCEPT: return "ACCEPT";
    case MILTER_REPLY_REPLBODY: return "REPLBODY";
    case MILTER_REPLY_CONTINUE: return "CONTINUE";
    case MILTER_REPLY_DISCARD: return "DISCARD";
    case MILTER_REPLY_CHGFROM: return "CHGFROM";
    case MILTER_REPLY_CONN_FAIL: return "CONN_FAIL";
    case MILTER_REPLY_ADDHEADER: return "ADDHEADER";
    case MILTER_REPLY_INSHEADER: return "INSHEADER";
    case MILTER_REPLY_SETSYMLIST: return "SETSYMLIST";
    case MILTER_REPLY_CHGHEADER: return "CHGHEADER";
    case MILTER_REPLY_PROGRESS: return "PROGRESS";
    case MILTER_REPLY_QUARANTINE: return "QUARANTINE";
    case MILTER_REPLY_REJECT: return "REJECT";
    case MILTER_REPLY_SKIP: return "SKIP";
    case MILTER_REPLY_TEMPFAIL: return "TEMPFAIL";
    case MILTER_REPLY_REPLYCODE: return "REPLYCODE";
    case MILTER_REPLY_OPTNEG: return "OPTNEG";
    default: return "unknown";
    }
}

/* ------------------------------------------------------------------------ */
/* The reader                                                               */

struct _MilterReader
{
  GByteArray *buffer;
  gsize       start;      /* first byte not yet taken */
  gsize       max_size;
};

MilterReader *
milter_reader_new (gsize max_size)
{
  MilterReader *self = g_new0 (MilterReader, 1);

  self->buffer = g_byte_array_new ();
  self->max_size = max_size ? max_size : MILTER_MAX_REPLY_SIZE;
  return self;
}

void
milter_reader_free (MilterReader *self)
{
  if (self == NULL)
    return;
  g_byte_array_unref (self->buffer);
  g_free (self);
}

void
milter_reader_feed (MilterReader *self,
                    const guint8 *data,
                    gsize         len)
{
  /* drop what was taken before growing */
  if (self->start > 0)
    {
      g_byte_array_remove_range (self->buffer, 0, self->start);
      self->start = 0;
    }
  g_byte_array_append (self->buffer, data, len);
}

gsize
milter_reader_pending (MilterReader *self)
{
  return self->buffer->len - self->start;
}

gboolean
milter_reader_next (MilterReader  *self,
                    MilterReply   *reply,
                    GError       **error)
{
  gsize avail = self->buffer->len - self->start;
  const guint8 *p;
  guint32 be, len;

  if (avail < 4)
    return FALSE;
  p = self->buffer->data + self->start;
  memcpy (&be, p, 4);
  len = GUINT32_FROM_BE (be);
  if (len == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "empty packet (length 0)");
      return FALSE;
    }
  if (len > self->max_size)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "packet of %u bytes, more than %" G_GSIZE_FORMAT,
                   len, self->max_size);
      return FALSE;
    }
  if (avail - 4 < len)
    return FALSE;

  if (!milter_reply_parse (p[4], p + 5, len - 1, reply, error))
    return FALSE;
  self->start += 4 + len;
  return TRUE;
}
