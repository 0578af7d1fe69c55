/* vsmtp-message.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "vsmtp-message.h"
#include "vsmtp-message-private.h"

/* How much of the content dup_header() looks at. */
#define HEADER_WINDOW (256 * 1024)
#define COPY_BUFFER_SIZE (64 * 1024)

/**
 * VsmtpMessage:
 *
 * A message received by the server: its envelope, its content and when it
 * was received.
 *
 * The content is what a delivery stores: the `Received:` header the server
 * prepends, followed by the bytes the client sent after DATA with
 * dot-stuffing removed, up to and including the CRLF before the final
 * `.` line (which is not part of it). Every line of it ends with CRLF: a
 * bare LF or CR is stored as CRLF (%VSMTP_BARE_NEWLINE_NORMALIZE, the
 * default of [property@Vsmtp.Server:bare-newline]) or the message is
 * refused before any handler sees it (%VSMTP_BARE_NEWLINE_REJECT).
 * [method@Vsmtp.Message.get_size] is its length.
 *
 * Small messages are kept in memory ([method@Vsmtp.Message.get_bytes]);
 * larger ones are spooled to a temporary file
 * ([method@Vsmtp.Message.get_spool_path]) that is removed when the message
 * is finalized. Either way [method@Vsmtp.Message.open_stream],
 * [method@Vsmtp.Message.dup_bytes] and [method@Vsmtp.Message.write_to_fd]
 * give the whole content.
 */
struct _VsmtpMessage
{
  GObject parent_instance;

  char *id;
  VsmtpEnvelope *envelope;
  GDateTime *received_at;       /* made on first use from received_usec */
  gint64     received_usec;
  guint64 size;

  gsize spool_threshold;
  char *spool_directory;

  /* In memory: buffer while writable, then bytes. */
  GByteArray *buffer;
  GBytes *bytes;

  /* Spooled: path, and fd while writable. */
  char *spool_path;
  int fd;

  guint finished : 1;
  guint failed : 1;
};

G_DEFINE_FINAL_TYPE (VsmtpMessage, vsmtp_message, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_ENVELOPE,
  PROP_SIZE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
vsmtp_message_finalize (GObject *object)
{
  VsmtpMessage *self = VSMTP_MESSAGE (object);

  if (self->fd >= 0)
    {
      g_close (self->fd, NULL);
      self->fd = -1;
    }
  if (self->spool_path != NULL)
    {
      if (g_unlink (self->spool_path) != 0 && errno != ENOENT)
        g_warning ("Could not remove spool file %s: %s",
                   self->spool_path, g_strerror (errno));
      g_clear_pointer (&self->spool_path, g_free);
    }

  g_clear_pointer (&self->id, g_free);
  g_clear_object (&self->envelope);
  g_clear_pointer (&self->received_at, g_date_time_unref);
  g_clear_pointer (&self->spool_directory, g_free);
  g_clear_pointer (&self->buffer, g_byte_array_unref);
  g_clear_pointer (&self->bytes, g_bytes_unref);

  G_OBJECT_CLASS (vsmtp_message_parent_class)->finalize (object);
}

static void
vsmtp_message_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  VsmtpMessage *self = VSMTP_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;

    case PROP_ENVELOPE:
      g_value_set_object (value, self->envelope);
      break;

    case PROP_SIZE:
      g_value_set_uint64 (value, self->size);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtp_message_class_init (VsmtpMessageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = vsmtp_message_finalize;
  object_class->get_property = vsmtp_message_get_property;

  /**
   * VsmtpMessage:id:
   *
   * The identifier the server gave the message (the queue id in logs and
   * in the `Received:` header).
   */
  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE |
                          G_PARAM_STATIC_STRINGS |
                          G_PARAM_EXPLICIT_NOTIFY));

  /**
   * VsmtpMessage:envelope:
   *
   * The envelope of the message: a copy of the session's envelope when the
   * message was received.
   */
  properties[PROP_ENVELOPE] =
    g_param_spec_object ("envelope", NULL, NULL,
                         VSMTP_TYPE_ENVELOPE,
                         (G_PARAM_READABLE |
                          G_PARAM_STATIC_STRINGS |
                          G_PARAM_EXPLICIT_NOTIFY));

  /**
   * VsmtpMessage:size:
   *
   * The size of the content in bytes, the `Received:` header the server
   * prepended included: see [method@Vsmtp.Message.get_size]. It is notified
   * once, when the message has been received completely.
   */
  properties[PROP_SIZE] =
    g_param_spec_uint64 ("size", NULL, NULL,
                         0, G_MAXUINT64, 0,
                         (G_PARAM_READABLE |
                          G_PARAM_STATIC_STRINGS |
                          G_PARAM_EXPLICIT_NOTIFY));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
vsmtp_message_init (VsmtpMessage *self)
{
  self->fd = -1;
}

VsmtpMessage *
_vsmtp_message_new_writable (const char    *id,
                             VsmtpEnvelope *envelope,
                             gsize          spool_threshold,
                             const char    *spool_directory)
{
  VsmtpMessage *self;

  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (envelope == NULL || VSMTP_IS_ENVELOPE (envelope), NULL);

  self = g_object_new (VSMTP_TYPE_MESSAGE, NULL);
  self->id = g_strdup (id);
  self->envelope = envelope != NULL ? vsmtp_envelope_copy (envelope) : vsmtp_envelope_new ();
  /* a GDateTime in local time costs a time zone lookup: on demand only */
  self->received_usec = g_get_real_time ();
  self->spool_threshold = spool_threshold;
  self->spool_directory = g_strdup (spool_directory != NULL ? spool_directory : g_get_tmp_dir ());
  self->buffer = g_byte_array_new ();

  return self;
}

/* Writes all of @data, retrying on EINTR and short writes. Returns 0 or an
 * errno value. */
static int
write_all (int         fd,
           const void *data,
           gsize       length)
{
  const guint8 *p = data;

  while (length > 0)
    {
      gssize written = write (fd, p, MIN (length, (gsize) G_MAXSSIZE));

      if (written < 0)
        {
          int saved_errno = errno;

          if (saved_errno == EINTR)
            continue;
          return saved_errno;
        }

      p += written;
      length -= written;
    }

  return 0;
}

static gboolean
set_errno_error (GError     **error,
                 int          saved_errno,
                 const char  *format,
                 ...) G_GNUC_PRINTF (3, 4);

static gboolean
set_errno_error (GError     **error,
                 int          saved_errno,
                 const char  *format,
                 ...)
{
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "%s: %s", what, g_strerror (saved_errno));

  return FALSE;
}

static gboolean
start_spooling (VsmtpMessage  *self,
                GError       **error)
{
  g_autofree char *template = g_build_filename (self->spool_directory, "vsmtp-XXXXXX", NULL);
  int saved_errno;
  int fd;

  fd = g_mkstemp_full (template, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    return set_errno_error (error, errno, "Could not create a spool file in %s",
                            self->spool_directory);

  self->fd = fd;
  self->spool_path = g_steal_pointer (&template);

  saved_errno = write_all (self->fd, self->buffer->data, self->buffer->len);
  if (saved_errno != 0)
    return set_errno_error (error, saved_errno, "Could not write spool file %s", self->spool_path);

  g_clear_pointer (&self->buffer, g_byte_array_unref);

  return TRUE;
}

gboolean
_vsmtp_message_append (VsmtpMessage  *self,
                       const void    *data,
                       gsize          length,
                       GError       **error)
{
  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail (!self->finished, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (length == 0)
    return TRUE;

  if (self->failed)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "Message %s could not be stored", self->id);
      return FALSE;
    }

  if (self->spool_path == NULL &&
      (self->buffer->len + length > self->spool_threshold ||
       self->buffer->len + length < length))
    {
      if (!start_spooling (self, error))
        {
          self->failed = TRUE;
          return FALSE;
        }
    }

  if (self->spool_path != NULL)
    {
      int saved_errno;

      g_assert (self->fd >= 0);

      saved_errno = write_all (self->fd, data, length);
      if (saved_errno != 0)
        {
          self->failed = TRUE;
          return set_errno_error (error, saved_errno, "Could not write spool file %s",
                                  self->spool_path);
        }
    }
  else
    g_byte_array_append (self->buffer, data, length);

  self->size += length;

  return TRUE;
}

gboolean
_vsmtp_message_finish (VsmtpMessage  *self,
                       GError       **error)
{
  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->finished)
    return TRUE;

  self->finished = TRUE;

  if (self->buffer != NULL)
    {
      self->bytes = g_byte_array_free_to_bytes (g_steal_pointer (&self->buffer));
    }

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIZE]);

  if (self->fd >= 0)
    {
      g_autoptr(GError) local_error = NULL;
      int fd = self->fd;

      self->fd = -1;
      if (!g_close (fd, &local_error))
        {
          g_set_error (error, local_error->domain, local_error->code,
                       "Could not close spool file %s: %s",
                       self->spool_path, local_error->message);
          return FALSE;
        }
    }

  return TRUE;
}

/**
 * vsmtp_message_get_id:
 * @self: a message
 *
 * Gets the identifier the server gave the message.
 *
 * Returns: the identifier
 */
const char *
vsmtp_message_get_id (VsmtpMessage *self)
{
  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), NULL);

  return self->id;
}

/**
 * vsmtp_message_get_envelope:
 * @self: a message
 *
 * Gets the envelope of the message.
 *
 * Returns: (transfer none): the envelope
 */
VsmtpEnvelope *
vsmtp_message_get_envelope (VsmtpMessage *self)
{
  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), NULL);

  return self->envelope;
}

/**
 * vsmtp_message_get_size:
 * @self: a message
 *
 * Gets the size of the content: the number of bytes
 * [method@Vsmtp.Message.dup_bytes], [method@Vsmtp.Message.open_stream] and
 * [method@Vsmtp.Message.write_to_fd] give. That is the `Received:` header
 * the server prepended plus the message as the client sent it after
 * dot-unstuffing (a bare line end stored as CRLF counting two bytes),
 * without the final `.` line.
 *
 * Two other sizes of the same message differ from it:
 *
 * - what the server limits ([property@Vsmtp.Server:max-message-size], the
 *   `SIZE` it announces) and the `size=` of its transaction log line count
 *   the client's content alone, without the `Received:` header: this size
 *   minus the length of that header;
 * - a delivery that adds lines of its own stores more: the files of
 *   vsmtpd's maildir plugin begin with a `Return-Path:` line, and the `S=`
 *   in their names is the size of the file, this size plus that line.
 *
 * Returns: the size in bytes
 */
guint64
vsmtp_message_get_size (VsmtpMessage *self)
{
  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), 0);

  return self->size;
}

/**
 * vsmtp_message_get_received_at:
 * @self: a message
 *
 * Gets when the server began receiving the message (local time).
 *
 * Returns: (transfer none): the time
 */
GDateTime *
vsmtp_message_get_received_at (VsmtpMessage *self)
{
  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), NULL);

  if (self->received_at == NULL)
    {
      g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc (self->received_usec / G_USEC_PER_SEC);
      g_autoptr(GDateTime) precise = g_date_time_add (utc, self->received_usec % G_USEC_PER_SEC);

      self->received_at = g_date_time_to_local (precise);
    }
  return self->received_at;
}

/**
 * vsmtp_message_is_spooled:
 * @self: a message
 *
 * Gets whether the content is in a spool file rather than in memory.
 *
 * Returns: %TRUE if the content is in a spool file
 */
gboolean
vsmtp_message_is_spooled (VsmtpMessage *self)
{
  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), FALSE);

  return self->spool_path != NULL;
}

/**
 * vsmtp_message_get_spool_path:
 * @self: a message
 *
 * Gets the path of the spool file holding the content. The file belongs to
 * the message and is removed when the message is finalized: a delivery that
 * wants to keep it should copy it, or hard-link it elsewhere.
 *
 * Returns: (nullable) (type filename): the path, or %NULL if the content is
 *   in memory
 */
const char *
vsmtp_message_get_spool_path (VsmtpMessage *self)
{
  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), NULL);

  return self->spool_path;
}

/**
 * vsmtp_message_get_bytes:
 * @self: a message
 *
 * Gets the content of a message held in memory, without copying it: the
 * same [method@Vsmtp.Message.get_size] bytes as
 * [method@Vsmtp.Message.dup_bytes].
 *
 * Returns: (nullable) (transfer none): the content, or %NULL if the message
 *   is spooled to a file (see [method@Vsmtp.Message.dup_bytes])
 */
GBytes *
vsmtp_message_get_bytes (VsmtpMessage *self)
{
  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), NULL);

  return self->bytes;
}

/* The in-memory content, also while it is still being received. */
static GBytes *
dup_memory_bytes (VsmtpMessage *self)
{
  if (self->bytes != NULL)
    return g_bytes_ref (self->bytes);
  if (self->buffer != NULL)
    return g_bytes_new (self->buffer->data, self->buffer->len);
  return g_bytes_new (NULL, 0);
}

/**
 * vsmtp_message_dup_bytes:
 * @self: a message
 * @error: return location for a #GError
 *
 * Gets the whole content (the `Received:` header the server prepended,
 * then the message; [method@Vsmtp.Message.get_size] bytes), loading it
 * from the spool file if needed.
 *
 * Returns: (transfer full): the content, or %NULL on error
 */
GBytes *
vsmtp_message_dup_bytes (VsmtpMessage  *self,
                         GError       **error)
{
  char *contents = NULL;
  gsize length = 0;

  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (self->spool_path == NULL)
    return dup_memory_bytes (self);

  if (!g_file_get_contents (self->spool_path, &contents, &length, error))
    return NULL;

  return g_bytes_new_take (contents, length);
}

/**
 * vsmtp_message_open_stream:
 * @self: a message
 * @error: return location for a #GError
 *
 * Opens a stream that reads the whole content ([method@Vsmtp.Message.get_size]
 * bytes, the `Received:` header first) from its beginning. Each call
 * returns a new, independent stream.
 *
 * Returns: (transfer full): a new input stream, or %NULL on error
 */
GInputStream *
vsmtp_message_open_stream (VsmtpMessage  *self,
                           GError       **error)
{
  g_autoptr(GFile) file = NULL;

  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (self->spool_path == NULL)
    {
      g_autoptr(GBytes) bytes = dup_memory_bytes (self);

      return g_memory_input_stream_new_from_bytes (bytes);
    }

  file = g_file_new_for_path (self->spool_path);

  return G_INPUT_STREAM (g_file_read (file, NULL, error));
}

static int
open_spool_file (VsmtpMessage  *self,
                 GError       **error)
{
  int fd;

  do
    fd = open (self->spool_path, O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);

  if (fd < 0)
    set_errno_error (error, errno, "Could not open spool file %s", self->spool_path);

  return fd;
}

/**
 * vsmtp_message_write_to_fd:
 * @self: a message
 * @fd: a file descriptor open for writing (a file, a pipe, a socket)
 * @error: return location for a #GError
 *
 * Writes the whole content ([method@Vsmtp.Message.get_size] bytes, the
 * `Received:` header first) to @fd, blocking until it is written. The file
 * descriptor is neither synced nor closed.
 *
 * Returns: %TRUE on success, %FALSE on error
 */
gboolean
vsmtp_message_write_to_fd (VsmtpMessage  *self,
                           int            fd,
                           GError       **error)
{
  g_autofree guint8 *buffer = NULL;
  int in_fd;
  gboolean ok = TRUE;

  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (fd >= 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->spool_path == NULL)
    {
      g_autoptr(GBytes) bytes = dup_memory_bytes (self);
      gsize length;
      const void *data = g_bytes_get_data (bytes, &length);

      int saved_errno = write_all (fd, data, length);

      if (saved_errno != 0)
        return set_errno_error (error, saved_errno, "Could not write message %s", self->id);
      return TRUE;
    }

  in_fd = open_spool_file (self, error);
  if (in_fd < 0)
    return FALSE;

  buffer = g_malloc (COPY_BUFFER_SIZE);

  for (;;)
    {
      gssize n = read (in_fd, buffer, COPY_BUFFER_SIZE);

      int saved_errno;

      if (n < 0)
        {
          saved_errno = errno;
          if (saved_errno == EINTR)
            continue;
          ok = set_errno_error (error, saved_errno, "Could not read spool file %s",
                                self->spool_path);
          break;
        }
      if (n == 0)
        break;

      saved_errno = write_all (fd, buffer, n);
      if (saved_errno != 0)
        {
          ok = set_errno_error (error, saved_errno, "Could not write message %s", self->id);
          break;
        }
    }

  g_close (in_fd, NULL);

  return ok;
}

/* The first HEADER_WINDOW bytes of content. */
static GBytes *
dup_header_window (VsmtpMessage *self)
{
  g_autofree guint8 *data = NULL;
  gsize length = 0;
  int fd;

  if (self->spool_path == NULL)
    {
      g_autoptr(GBytes) bytes = dup_memory_bytes (self);

      return g_bytes_new_from_bytes (bytes, 0, MIN (g_bytes_get_size (bytes), HEADER_WINDOW));
    }

  fd = open_spool_file (self, NULL);
  if (fd < 0)
    return NULL;

  data = g_malloc (HEADER_WINDOW);
  while (length < HEADER_WINDOW)
    {
      gssize n = read (fd, data + length, HEADER_WINDOW - length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      length += n;
    }
  g_close (fd, NULL);

  return g_bytes_new_take (g_steal_pointer (&data), length);
}

/* Whether [line, line_end) starts a field named @name. On success *value
 * points just after the colon. */
static gboolean
match_field_name (const char  *line,
                  const char  *line_end,
                  const char  *name,
                  gsize        name_length,
                  const char **value)
{
  const char *p;

  if ((gsize) (line_end - line) <= name_length)
    return FALSE;
  if (g_ascii_strncasecmp (line, name, name_length) != 0)
    return FALSE;

  /* Obsolete syntax allows white space before the colon. */
  for (p = line + name_length; p < line_end && (*p == ' ' || *p == '\t'); p++)
    ;
  if (p >= line_end || *p != ':')
    return FALSE;

  *value = p + 1;
  return TRUE;
}

/**
 * vsmtp_message_dup_header:
 * @self: a message
 * @name: a header field name, matched ASCII case-insensitively
 *
 * Gets the value of the first header field named @name in the header
 * section of the content (up to the first empty line; only the first
 * 256 KiB are looked at). The value is unfolded and stripped of leading and
 * trailing white space. Bytes that are not valid UTF-8 are replaced.
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
  g_autoptr(GBytes) window = NULL;
  const char *data;
  const char *end;
  const char *p;
  gsize size;
  gsize name_length;

  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), NULL);
  g_return_val_if_fail (name != NULL && *name != '\0', NULL);

  window = dup_header_window (self);
  if (window == NULL)
    return NULL;

  data = g_bytes_get_data (window, &size);
  if (data == NULL)
    return NULL;
  end = data + size;
  name_length = strlen (name);

  p = data;
  while (p < end)
    {
      const char *nl = memchr (p, '\n', end - p);
      const char *line_end = nl != NULL ? nl : end;
      const char *next = nl != NULL ? nl + 1 : end;
      const char *value;

      if (line_end > p && line_end[-1] == '\r')
        line_end--;

      /* The empty line ends the header section. */
      if (line_end == p)
        break;

      if (*p != ' ' && *p != '\t' &&
          match_field_name (p, line_end, name, name_length, &value))
        {
          g_autoptr(GString) result = g_string_new (NULL);
          char *stripped;

          g_string_append_len (result, value, line_end - value);

          /* Continuation lines: unfolding removes the line break and keeps
           * the white space that follows it. */
          while (next < end && (*next == ' ' || *next == '\t'))
            {
              const char *cnl = memchr (next, '\n', end - next);
              const char *cline_end = cnl != NULL ? cnl : end;

              if (cline_end > next && cline_end[-1] == '\r')
                cline_end--;
              g_string_append_len (result, next, cline_end - next);
              next = cnl != NULL ? cnl + 1 : end;
            }

          stripped = g_strstrip (result->str);
          if (!g_utf8_validate (stripped, -1, NULL))
            return g_utf8_make_valid (stripped, -1);
          return g_strdup (stripped);
        }

      p = next;
    }

  return NULL;
}
