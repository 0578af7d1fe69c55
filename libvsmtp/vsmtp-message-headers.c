/* vsmtp-message-headers.c: the header section of a VsmtpMessage: parsing
 * it (lazily, on the first read or change), listing and reading its
 * fields, changing them, and rendering the fields of a changed message
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-error.h"
#include "vsmtp-message.h"
#include "vsmtp-message-struct-private.h"

/* How much of the content dup_header() looks at. */
#define HEADER_WINDOW (256 * 1024)

/* One header field of self->fields (see "How the content is kept" in
 * vsmtp-message-struct-private.h). */
typedef struct {
  gsize length;         /* of raw */
  gsize name_length;    /* the name is raw[0, name_length) */
  gsize value_offset;   /* just after the colon */
  char raw[];           /* NUL-terminated */
} Field;

/* RFC 5322 ftext: printable US-ASCII except the colon. */
#define IS_FTEXT(c) ((c) >= 33 && (c) <= 126 && (c) != ':')
#define IS_WSP(c) ((c) == ' ' || (c) == '\t')

/* Finds where the header fields begin and where the header section ends,
 * fed the content in chunks. The header section is a run of fields (a
 * name, optional white space (obsolete syntax), a colon, then continuation
 * lines beginning with white space); it ends at the empty line, at a line
 * that is neither a field nor a continuation, or at the end of the
 * content. This is the one definition used by dup_header(), by the header
 * editing and by the body replacement. */
typedef enum {
  SCAN_LINE_START,
  SCAN_LINE_START_CR,
  SCAN_NAME,
  SCAN_NAME_WSP,
  SCAN_IN_LINE,
  SCAN_DONE,
} ScanState;

typedef struct {
  ScanState state;
  guint64 offset;       /* of the next byte */
  guint64 line_start;
  guint64 end;          /* SCAN_DONE: where the header section ends */
  gboolean seen_field;
  GArray *field_starts; /* of guint64; nullable */
} HeaderScanner;

static void
header_scanner_init (HeaderScanner *scan,
                     guint64        offset,
                     GArray        *field_starts)
{
  scan->state = SCAN_LINE_START;
  scan->offset = scan->line_start = scan->end = offset;
  scan->seen_field = FALSE;
  scan->field_starts = field_starts;
}

static void
header_scanner_stop (HeaderScanner *scan)
{
  scan->state = SCAN_DONE;
  scan->end = scan->line_start;
}

static gboolean
header_scanner_feed (const guint8  *data,
                     gsize          length,
                     gpointer       user_data,
                     GError       **error)
{
  HeaderScanner *scan = user_data;
  gsize i = 0;

  while (i < length && scan->state != SCAN_DONE)
    {
      guint8 c = data[i];

      switch (scan->state)
        {
        case SCAN_LINE_START:
          scan->line_start = scan->offset + i;
          if (c == '\r')
            scan->state = SCAN_LINE_START_CR;
          else if (IS_WSP (c) && scan->seen_field)
            scan->state = SCAN_IN_LINE;
          else if (IS_FTEXT (c))
            scan->state = SCAN_NAME;
          else
            header_scanner_stop (scan);
          break;

        case SCAN_NAME:
        case SCAN_NAME_WSP:
          if (c == ':')
            {
              scan->seen_field = TRUE;
              scan->state = SCAN_IN_LINE;
              if (scan->field_starts != NULL)
                g_array_append_val (scan->field_starts, scan->line_start);
            }
          else if (IS_WSP (c))
            scan->state = SCAN_NAME_WSP;
          else if (!IS_FTEXT (c) || scan->state == SCAN_NAME_WSP)
            header_scanner_stop (scan);
          break;

        case SCAN_IN_LINE:
          {
            const guint8 *nl = memchr (data + i, '\n', length - i);

            if (nl == NULL)
              {
                i = length;
                continue;
              }
            i = nl - data;
            scan->state = SCAN_LINE_START;
          }
          break;

        case SCAN_LINE_START_CR:
        case SCAN_DONE:
        default:
          /* CRLF: the empty line; CR and anything else: not a field */
          header_scanner_stop (scan);
          break;
        }
      i++;
    }
  scan->offset += i;

  return scan->state != SCAN_DONE;
}

/* At the end of the content. */
static void
header_scanner_finish (HeaderScanner *scan)
{
  if (scan->state == SCAN_DONE)
    return;
  if (scan->state == SCAN_LINE_START || scan->state == SCAN_IN_LINE)
    scan->line_start = scan->offset;
  header_scanner_stop (scan);
}

gsize
_vsmtp_message_fields_size (VsmtpMessage *self)
{
  gsize size = 0;
  guint i;

  for (i = 0; i < self->fields->len; i++)
    size += ((Field *) g_ptr_array_index (self->fields, i))->length;

  return size;
}

GByteArray *
_vsmtp_message_render_fields (VsmtpMessage *self,
                              gsize         reserve)
{
  GByteArray *block = g_byte_array_sized_new (_vsmtp_message_fields_size (self) + reserve);
  guint i;

  for (i = 0; i < self->fields->len; i++)
    {
      const Field *field = g_ptr_array_index (self->fields, i);

      g_byte_array_append (block, (const guint8 *) field->raw, field->length);
    }

  return block;
}

static Field *
field_new_raw (const char *raw,
               gsize       length)
{
  Field *field = g_malloc (sizeof (Field) + length + 1);
  gsize i = 0;

  memcpy (field->raw, raw, length);
  field->raw[length] = '\0';
  field->length = length;

  while (i < length && IS_FTEXT (raw[i]))
    i++;
  field->name_length = i;
  while (i < length && raw[i] != ':')
    i++;
  field->value_offset = MIN (i + 1, length);

  return field;
}

gboolean
_vsmtp_message_ensure_fields (VsmtpMessage  *self,
                              GError       **error)
{
  g_autoptr(GBytes) window = NULL;
  g_autoptr(GArray) starts = NULL;
  g_autoptr(GPtrArray) fields = NULL;
  HeaderScanner scan;
  const char *data;
  gsize length;
  gboolean complete;
  guint i;

  if (g_atomic_pointer_get (&self->fields) != NULL)
    return TRUE;

  window = _vsmtp_message_read_source_head (self, HEADER_WINDOW, error);
  if (window == NULL)
    return FALSE;
  data = g_bytes_get_data (window, &length);

  starts = g_array_new (FALSE, FALSE, sizeof (guint64));
  header_scanner_init (&scan, 0, starts);
  header_scanner_feed ((const guint8 *) data, length, &scan, NULL);
  if (length >= self->source_size)
    header_scanner_finish (&scan);
  complete = scan.state == SCAN_DONE;

  fields = g_ptr_array_new_with_free_func (g_free);
  for (i = 0; i < starts->len; i++)
    {
      guint64 start = g_array_index (starts, guint64, i);
      guint64 end;

      if (i + 1 < starts->len)
        end = g_array_index (starts, guint64, i + 1);
      else if (complete)
        end = scan.end;
      else
        break;      /* it may go on beyond the window */

      g_ptr_array_add (fields, field_new_raw (data + start, end - start));
    }

  /* Readers (dup_header()) may parse on several threads at once: they all
   * find the same, and the first one's fields stay. */
  if (complete)
    self->tail_offset = scan.end;
  else
    self->tail_offset = starts->len > 0 ? g_array_index (starts, guint64, starts->len - 1) : 0;
  self->header_truncated = !complete;
  if (g_atomic_pointer_compare_and_exchange (&self->fields, NULL, fields))
    fields = NULL;

  return TRUE;
}

/* The index of the @occurrence-th (from 1) field named @name, or -1. */
static int
find_field (VsmtpMessage *self,
            const char   *name,
            guint         occurrence)
{
  gsize name_length = strlen (name);
  guint i;

  for (i = 0; i < self->fields->len; i++)
    {
      const Field *field = g_ptr_array_index (self->fields, i);

      if (field->name_length == name_length &&
          g_ascii_strncasecmp (field->raw, name, name_length) == 0 &&
          --occurrence == 0)
        return i;
    }

  return -1;
}

static char *
make_valid (GString *string)
{
  if (!g_utf8_validate_len (string->str, string->len, NULL))
    return g_utf8_make_valid (string->str, string->len);
  return g_strndup (string->str, string->len);
}

/**
 * vsmtp_message_dup_header:
 * @self: a message
 * @name: a header field name, matched ASCII case-insensitively
 *
 * Gets the value of the first header field named @name in the header
 * section of the content (see [class@Vsmtp.Message]: up to the first empty
 * line, or the first line that is not a header field; only the first
 * 256 KiB are looked at), changes included. The value is unfolded and
 * stripped of leading and trailing white space. Bytes that are not valid
 * UTF-8 are replaced.
 *
 * The content usually begins with the `Received:` header that the server
 * prepended.
 *
 * Returns: (nullable) (transfer full): the value, or %NULL if there is no
 *   such header
 */
char *
vsmtp_message_dup_header (VsmtpMessage *self,
                          const char   *name)
{
  g_autoptr(GString) result = NULL;
  const Field *field;
  const char *p;
  const char *end;
  int index;

  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), NULL);
  g_return_val_if_fail (name != NULL && *name != '\0', NULL);

  /* (the session hands the message over once it is complete) */
  if (!self->finished || !_vsmtp_message_ensure_fields (self, NULL))
    return NULL;
  index = find_field (self, name, 1);
  if (index < 0)
    return NULL;
  field = g_ptr_array_index (self->fields, index);

  /* Unfolding removes the line breaks and keeps the white space that
   * follows them. */
  result = g_string_new (NULL);
  end = field->raw + field->length;
  for (p = field->raw + field->value_offset; p < end; )
    {
      const char *nl = memchr (p, '\n', end - p);
      const char *line_end = nl != NULL ? nl : end;

      if (line_end > p && line_end[-1] == '\r')
        line_end--;
      g_string_append_len (result, p, line_end - p);
      p = nl != NULL ? nl + 1 : end;
    }

  while (result->len > 0 && g_ascii_isspace (result->str[result->len - 1]))
    g_string_truncate (result, result->len - 1);
  for (p = result->str; g_ascii_isspace (*p); p++)
    ;
  g_string_erase (result, 0, p - result->str);

  return make_valid (result);
}

/**
 * vsmtp_message_get_n_headers:
 * @self: a message
 *
 * Gets the number of header fields, changes included: the `Received:`
 * field the server prepended (index 0, usually), then the client's fields.
 * Fields beyond the first 256 KiB of content are not counted (see
 * [class@Vsmtp.Message]).
 *
 * Returns: the number of header fields, or 0 if the spool file could not be
 *   read
 */
guint
vsmtp_message_get_n_headers (VsmtpMessage *self)
{
  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), 0);
  g_return_val_if_fail (self->finished, 0);

  if (!_vsmtp_message_ensure_fields (self, NULL))
    return 0;

  return self->fields->len;
}

static const Field *
get_field (VsmtpMessage *self,
           guint         index)
{
  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), NULL);
  g_return_val_if_fail (self->finished, NULL);

  if (!_vsmtp_message_ensure_fields (self, NULL) || index >= self->fields->len)
    return NULL;

  return g_ptr_array_index (self->fields, index);
}

/**
 * vsmtp_message_dup_header_name:
 * @self: a message
 * @index: the index of a header field, from 0 (see
 *   [method@Vsmtp.Message.get_n_headers])
 *
 * Gets the name of a header field, as it is written in the message.
 *
 * Returns: (nullable) (transfer full): the name, or %NULL if @index is out
 *   of range
 */
char *
vsmtp_message_dup_header_name (VsmtpMessage *self,
                               guint         index)
{
  const Field *field = get_field (self, index);

  return field != NULL ? g_strndup (field->raw, field->name_length) : NULL;
}

/**
 * vsmtp_message_dup_header_value:
 * @self: a message
 * @index: the index of a header field, from 0 (see
 *   [method@Vsmtp.Message.get_n_headers])
 *
 * Gets the value of a header field as it is written: what follows the colon,
 * without the space that usually follows it and without the final line end.
 * A folded value keeps its line breaks (CRLF, then a space or a tab), as
 * [method@Vsmtp.Message.add_header] takes them; so a value added is read
 * back unchanged. [method@Vsmtp.Message.dup_header] gives values unfolded
 * instead. Bytes that are not valid UTF-8 are replaced.
 *
 * Returns: (nullable) (transfer full): the value, or %NULL if @index is out
 *   of range
 */
char *
vsmtp_message_dup_header_value (VsmtpMessage *self,
                                guint         index)
{
  g_autoptr(GString) value = NULL;
  const Field *field = get_field (self, index);
  const char *start;
  const char *end;

  if (field == NULL)
    return NULL;

  start = field->raw + field->value_offset;
  end = field->raw + field->length;
  if (start < end && *start == ' ')
    start++;
  if (end > start && end[-1] == '\n')
    end--;
  if (end > start && end[-1] == '\r')
    end--;
  value = g_string_new_len (start, end - start);

  return make_valid (value);
}

static gboolean
check_header_name (const char  *name,
                   GError     **error)
{
  const char *p;

  for (p = name; IS_FTEXT (*p); p++)
    ;
  if (*name == '\0' || *p != '\0')
    {
      g_autofree char *escaped = g_strescape (name, NULL);

      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                   "Invalid header field name \"%s\": a name is printable ASCII "
                   "characters other than the colon, without spaces", escaped);
      return FALSE;
    }

  return TRUE;
}

static gboolean
check_header_value (const char  *value,
                    GError     **error)
{
  const char *p;

  for (p = value; *p != '\0'; p++)
    {
      guchar c = *p;

      if (c == '\r' && p[1] == '\n')
        {
          const char *q = p + 2;

          /* Folding: the next line begins with white space, and has more
           * than white space (RFC 5322 3.2.2). */
          while (IS_WSP (*q))
            q++;
          if (q == p + 2 || *q == '\0' || *q == '\r' || *q == '\n')
            {
              g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                           "Invalid header field value: a line break must be followed by "
                           "a space or a tab and more text (a folded line)");
              return FALSE;
            }
          p++;
        }
      else if (c == '\r' || c == '\n')
        {
          g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_BARE_NEWLINE,
                       "Invalid header field value: bare %s", c == '\r' ? "CR" : "LF");
          return FALSE;
        }
      else if ((c < 0x20 && c != '\t') || c == 0x7f)
        {
          g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                       "Invalid header field value: control character 0x%02x", c);
          return FALSE;
        }
    }

  return TRUE;
}

static Field *
field_new (const char *name,
           const char *value)
{
  g_autofree char *raw = g_strconcat (name, ":", *value != '\0' ? " " : "", value, "\r\n", NULL);

  return field_new_raw (raw, strlen (raw));
}

/* Checks an edit's arguments and parses the header section. */
static gboolean
prepare_edit (VsmtpMessage  *self,
              const char    *name,
              const char    *value,
              GError       **error)
{
  return check_header_name (name, error) &&
         (value == NULL || check_header_value (value, error)) &&
         _vsmtp_message_ensure_fields (self, error);
}

void
_vsmtp_message_begin_edit (VsmtpMessage *self)
{
  g_clear_pointer (&self->rendered, g_bytes_unref);

  if (!self->edited && self->fields->len > 0)
    {
      /* The last field of a content without a final line end (all header)
       * gets one, so that what follows it stays a line of its own. */
      Field **last = (Field **) &g_ptr_array_index (self->fields, self->fields->len - 1);

      if ((*last)->length == 0 || (*last)->raw[(*last)->length - 1] != '\n')
        {
          g_autofree char *raw = g_strconcat ((*last)->raw, "\r\n", NULL);
          Field *old = *last;

          *last = field_new_raw (raw, strlen (raw));
          g_free (old);
        }
    }
  self->edited = TRUE;
}

/**
 * vsmtp_message_insert_header:
 * @self: a message
 * @index: where to insert the field, from 0 (the top of the header section,
 *   before the `Received:` field the server prepended)
 * @name: the field name
 * @value: the field value
 * @error: return location for a #GError
 *
 * Inserts a header field at position @index among the header fields (the
 * ones [method@Vsmtp.Message.get_n_headers] counts), like libmilter's
 * `smfi_insheader`: 0 puts it first; @index greater than or equal to the
 * number of fields appends it, as [method@Vsmtp.Message.add_header] does.
 * Note that the `Received:` field the server prepended counts: index 1 is
 * the position right after it (where Postfix puts a milter's index 0).
 *
 * The field is written `name: value` and a CRLF. @name is printable
 * US-ASCII other than the colon, without spaces (RFC 5322 `ftext`). @value
 * is written as given, with no line break except folding: CRLF followed by
 * a space or a tab and more text (`"first part\r\n\tsecond part"`); no
 * control character other than the tab. A name or value that is not so is
 * refused with %VSMTP_ERROR_SYNTAX (%VSMTP_ERROR_BARE_NEWLINE for a bare CR
 * or LF) and the message is unchanged.
 *
 * Returns: %TRUE if the field was inserted, %FALSE on error
 */
gboolean
vsmtp_message_insert_header (VsmtpMessage  *self,
                             guint          index,
                             const char    *name,
                             const char    *value,
                             GError       **error)
{
  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (self->finished, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!prepare_edit (self, name, value, error))
    return FALSE;

  _vsmtp_message_begin_edit (self);
  g_ptr_array_insert (self->fields, MIN (index, self->fields->len), field_new (name, value));
  _vsmtp_message_update_size (self);

  return TRUE;
}

/**
 * vsmtp_message_add_header:
 * @self: a message
 * @name: the field name
 * @value: the field value
 * @error: return location for a #GError
 *
 * Appends a header field at the end of the header section, like libmilter's
 * `smfi_addheader`. See [method@Vsmtp.Message.insert_header] for what
 * @name and @value may be.
 *
 * Returns: %TRUE if the field was added, %FALSE on error
 */
gboolean
vsmtp_message_add_header (VsmtpMessage  *self,
                          const char    *name,
                          const char    *value,
                          GError       **error)
{
  return vsmtp_message_insert_header (self, G_MAXUINT, name, value, error);
}

/**
 * vsmtp_message_change_header:
 * @self: a message
 * @name: the field name, matched ASCII case-insensitively
 * @occurrence: which field named @name, counting from 1
 * @value: (nullable): the new value, or %NULL to delete the field
 * @error: return location for a #GError
 *
 * Changes the value of the @occurrence-th header field named @name, or
 * deletes it if @value is %NULL, with the semantics of libmilter's
 * `smfi_chgheader`: if there are fewer than @occurrence such fields, a
 * non-%NULL @value is added at the end of the header section (as
 * [method@Vsmtp.Message.add_header] does), and a %NULL one changes nothing.
 * A changed field keeps its position and is written `name: value` with the
 * @name given. See [method@Vsmtp.Message.insert_header] for what @name and
 * @value may be; an @occurrence of 0 is refused with %VSMTP_ERROR_SYNTAX.
 *
 * Returns: %TRUE on success (the field was changed, deleted, added, or
 *   there was nothing to delete), %FALSE on error
 */
gboolean
vsmtp_message_change_header (VsmtpMessage  *self,
                             const char    *name,
                             guint          occurrence,
                             const char    *value,
                             GError       **error)
{
  int index;

  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (self->finished, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (occurrence == 0)
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                   "Invalid header field occurrence 0: occurrences count from 1");
      return FALSE;
    }
  if (!prepare_edit (self, name, value, error))
    return FALSE;

  index = find_field (self, name, occurrence);
  if (index < 0)
    return value == NULL || vsmtp_message_add_header (self, name, value, error);

  _vsmtp_message_begin_edit (self);
  if (value == NULL)
    g_ptr_array_remove_index (self->fields, index);
  else
    {
      g_free (g_ptr_array_index (self->fields, index));
      g_ptr_array_index (self->fields, index) = field_new (name, value);
    }
  _vsmtp_message_update_size (self);

  return TRUE;
}

/**
 * vsmtp_message_delete_header:
 * @self: a message
 * @name: the field name, matched ASCII case-insensitively
 * @occurrence: which field named @name, counting from 1
 *
 * Deletes the @occurrence-th header field named @name, if there is one.
 *
 * Returns: %TRUE if a field was deleted, %FALSE if there is no such field
 *   (or the spool file could not be read)
 */
gboolean
vsmtp_message_delete_header (VsmtpMessage *self,
                             const char   *name,
                             guint         occurrence)
{
  g_autoptr(GError) error = NULL;
  int index;

  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (self->finished, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  if (occurrence == 0)
    return FALSE;
  if (!_vsmtp_message_ensure_fields (self, &error))
    {
      g_warning ("Could not delete header field %s of message %s: %s",
                 name, self->id, error->message);
      return FALSE;
    }

  index = find_field (self, name, occurrence);
  if (index < 0)
    return FALSE;

  _vsmtp_message_begin_edit (self);
  g_ptr_array_remove_index (self->fields, index);
  _vsmtp_message_update_size (self);

  return TRUE;
}

gboolean
_vsmtp_message_copy_header_rest (VsmtpMessage    *self,
                                 VsmtpChunkFunc   func,
                                 gpointer         user_data,
                                 GError         **error)
{
  HeaderScanner scan;

  header_scanner_init (&scan, self->tail_offset, NULL);
  scan.seen_field = self->fields->len > 0;
  if (!_vsmtp_message_copy_source (self, self->tail_offset, G_MAXUINT64,
                                   header_scanner_feed, &scan, error))
    return FALSE;
  header_scanner_finish (&scan);

  return _vsmtp_message_copy_source (self, self->tail_offset, scan.end, func, user_data, error);
}
