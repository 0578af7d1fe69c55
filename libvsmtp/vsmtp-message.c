/* vsmtp-message.c: the object, the storage of its content (in memory or
 * a spool file, appended while receiving) and the readers of the content
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "vsmtp-message.h"
#include "vsmtp-message-private.h"
#include "vsmtp-message-struct-private.h"
#include "vsmtp-concat-input-stream.h"

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
 *
 * ## Changing the message
 *
 * Handlers of [signal@Vsmtp.Session::message-received] (a milter, a
 * signer, a policy) can change the message before a delivery reads it,
 * with the semantics of Sendmail's libmilter:
 * [method@Vsmtp.Message.add_header] (`smfi_addheader`),
 * [method@Vsmtp.Message.insert_header] (`smfi_insheader`),
 * [method@Vsmtp.Message.change_header] (`smfi_chgheader`),
 * [method@Vsmtp.Message.delete_header], and
 * [method@Vsmtp.Message.replace_body_from_stream] (`smfi_replacebody`, or
 * [method@Vsmtp.Message.replace_body_from_bytes]). The header fields are
 * listed with [method@Vsmtp.Message.get_n_headers],
 * [method@Vsmtp.Message.dup_header_name] and
 * [method@Vsmtp.Message.dup_header_value].
 *
 * Every reader sees the changed message: [method@Vsmtp.Message.get_bytes],
 * [method@Vsmtp.Message.dup_bytes], [method@Vsmtp.Message.open_stream],
 * [method@Vsmtp.Message.write_to_fd], [method@Vsmtp.Message.dup_header]
 * and [method@Vsmtp.Message.get_size]. A message nobody changed is read
 * exactly as it was received, at the same cost.
 *
 * The header section is the `Received:` field the server prepended, then
 * the client's header fields, up to the first empty line (or a line that is
 * neither a field nor the continuation of one, or the end of the content).
 * The `Received:` field is a field like the others: it is the first one,
 * index 0, and can be changed or deleted. Only the first 256 KiB of content
 * are looked at for header fields: fields beyond them stay as they are and
 * are not counted, and a field added "at the end" goes after the last field
 * within those 256 KiB.
 *
 * A message is changed on the thread that emitted the signal (the server's
 * main context), before it is handed to code that reads it on other threads;
 * reading from several threads is safe, changing while another thread reads
 * is not.
 */

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
  g_clear_pointer (&self->fields, g_ptr_array_unref);
  g_clear_pointer (&self->rendered, g_bytes_unref);

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
   * prepended included, changes included: see
   * [method@Vsmtp.Message.get_size]. It is notified when the message has
   * been received completely, then whenever a change of the header fields
   * or of the body changes it.
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

#define MESSAGE_INITIAL_BUFFER 4096

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
  /* room for the trace header and a small message from the start: growing
   * from nothing costs a malloc, a realloc and a copy per message */
  self->buffer = g_byte_array_sized_new ((guint) MIN (spool_threshold, MESSAGE_INITIAL_BUFFER));

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
  self->source_size = self->size;

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
 * [method@Vsmtp.Message.write_to_fd] give now. That is the `Received:`
 * header the server prepended plus the message as the client sent it after
 * dot-unstuffing (a bare line end stored as CRLF counting two bytes),
 * without the final `.` line; after a handler changed the message (see
 * [method@Vsmtp.Message.add_header],
 * [method@Vsmtp.Message.replace_body_from_stream]), the size of the changed
 * content. [property@Vsmtp.Message:size] is notified when it changes.
 *
 * Two other sizes of the same message differ from it:
 *
 * - what the server limits ([property@Vsmtp.Server:max-message-size], the
 *   `SIZE` it announces) and the `size=` of its transaction log line count
 *   the client's content alone, as received: without the `Received:`
 *   header, and before any change a handler made. For a message nobody
 *   changed, it is this size minus the length of that header;
 * - a delivery that adds lines of its own stores more: the files of
 *   vsmtpd's maildir plugin begin with a `Return-Path:` line, and the `S=`
 *   in their names is the size of the file, this size (changes included)
 *   plus that line.
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
 * Gets whether the content is in a spool file rather than in memory. For a
 * changed message: whether its body is (its header fields are in memory),
 * as [method@Vsmtp.Message.get_bytes] returns %NULL then.
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
 * Once the message has been changed (see [class@Vsmtp.Message]), no file
 * holds the content as it is (the body may still be in a spool file, the
 * header fields are in memory): this returns %NULL, and a delivery reads the
 * content with [method@Vsmtp.Message.write_to_fd] or
 * [method@Vsmtp.Message.open_stream].
 *
 * Returns: (nullable) (type filename): the path, or %NULL if the content is
 *   in memory or has been changed
 */
const char *
vsmtp_message_get_spool_path (VsmtpMessage *self)
{
  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), NULL);

  return self->edited ? NULL : self->spool_path;
}

/* Content readers ------------------------------------------------------ */

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

gboolean
_vsmtp_message_copy_source (VsmtpMessage    *self,
                            guint64          from,
                            guint64          to,
                            VsmtpChunkFunc   func,
                            gpointer         user_data,
                            GError         **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree guint8 *buffer = NULL;
  gboolean ok = TRUE;
  int in_fd;

  to = MIN (to, self->source_size);
  if (from >= to)
    return TRUE;

  if (self->spool_path == NULL)
    {
      g_autoptr(GBytes) bytes = dup_memory_bytes (self);
      const guint8 *data = g_bytes_get_data (bytes, NULL);

      if (!func (data + from, to - from, user_data, &local_error) && local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      return TRUE;
    }

  in_fd = open_spool_file (self, error);
  if (in_fd < 0)
    return FALSE;

  if (from > 0 && lseek (in_fd, from, SEEK_SET) < 0)
    {
      ok = set_errno_error (error, errno, "Could not read spool file %s", self->spool_path);
      goto out;
    }

  buffer = g_malloc (COPY_BUFFER_SIZE);
  while (from < to)
    {
      gssize n = read (in_fd, buffer, MIN (COPY_BUFFER_SIZE, to - from));

      if (n < 0)
        {
          int saved_errno = errno;

          if (saved_errno == EINTR)
            continue;
          ok = set_errno_error (error, saved_errno, "Could not read spool file %s",
                                self->spool_path);
          break;
        }
      if (n == 0)
        break;
      from += n;

      if (!func (buffer, n, user_data, &local_error))
        {
          ok = local_error == NULL;
          if (!ok)
            g_propagate_error (error, g_steal_pointer (&local_error));
          break;
        }
    }

out:
  g_close (in_fd, NULL);

  return ok;
}

static gboolean
append_to_array (const guint8  *data,
                 gsize          length,
                 gpointer       user_data,
                 GError       **error)
{
  g_byte_array_append (user_data, data, length);
  return TRUE;
}

GBytes *
_vsmtp_message_read_source_head (VsmtpMessage  *self,
                                 gsize          length,
                                 GError       **error)
{
  g_autoptr(GByteArray) array = g_byte_array_new ();

  if (self->spool_path == NULL)
    {
      g_autoptr(GBytes) bytes = dup_memory_bytes (self);

      return g_bytes_new_from_bytes (bytes, 0, MIN (g_bytes_get_size (bytes), length));
    }

  if (!_vsmtp_message_copy_source (self, 0, length, append_to_array, array, error))
    return NULL;

  return g_byte_array_free_to_bytes (g_steal_pointer (&array));
}

void
_vsmtp_message_update_size (VsmtpMessage *self)
{
  guint64 size = _vsmtp_message_fields_size (self) + self->source_size - self->tail_offset;

  if (size != self->size)
    {
      self->size = size;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIZE]);
    }
}

/* Passes the whole content to @func. */
static gboolean
write_content (VsmtpMessage    *self,
               VsmtpChunkFunc   func,
               gpointer         user_data,
               GError         **error)
{
  if (self->edited)
    {
      g_autoptr(GByteArray) block = _vsmtp_message_render_fields (self, 0);

      if (!func (block->data, block->len, user_data, error))
        return FALSE;
      return _vsmtp_message_copy_source (self, self->tail_offset, G_MAXUINT64,
                                         func, user_data, error);
    }

  return _vsmtp_message_copy_source (self, 0, G_MAXUINT64, func, user_data, error);
}

/* The content of a changed message held in memory. */
static GBytes *
ensure_rendered (VsmtpMessage *self)
{
  GBytes *rendered = g_atomic_pointer_get (&self->rendered);

  if (rendered == NULL)
    {
      GByteArray *array = _vsmtp_message_render_fields (self,
                                                        self->source_size - self->tail_offset);

      _vsmtp_message_copy_source (self, self->tail_offset, G_MAXUINT64,
                                  append_to_array, array, NULL);
      rendered = g_byte_array_free_to_bytes (array);
      /* readers on several threads: the first one's copy stays */
      if (!g_atomic_pointer_compare_and_exchange (&self->rendered, NULL, rendered))
        {
          g_bytes_unref (rendered);
          rendered = g_atomic_pointer_get (&self->rendered);
        }
    }

  return rendered;
}

/**
 * vsmtp_message_get_bytes:
 * @self: a message
 *
 * Gets the content of a message held in memory, without copying it: the
 * same [method@Vsmtp.Message.get_size] bytes as
 * [method@Vsmtp.Message.dup_bytes].
 *
 * For a message a handler changed (see [class@Vsmtp.Message]), the content
 * is built by the first call after a change and kept until the next one:
 * the bytes returned stay valid until the message is changed again or
 * finalized (take a reference to keep them longer).
 *
 * Returns: (nullable) (transfer none): the content, or %NULL if the message
 *   is spooled to a file (see [method@Vsmtp.Message.dup_bytes])
 */
GBytes *
vsmtp_message_get_bytes (VsmtpMessage *self)
{
  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), NULL);

  if (!self->edited)
    return self->bytes;
  if (self->spool_path != NULL)
    return NULL;
  return ensure_rendered (self);
}

/**
 * vsmtp_message_dup_bytes:
 * @self: a message
 * @error: return location for a #GError
 *
 * Gets the whole content (the `Received:` header the server prepended,
 * then the message, changes included; [method@Vsmtp.Message.get_size]
 * bytes), loading it from the spool file if needed.
 *
 * Returns: (transfer full): the content, or %NULL on error
 */
GBytes *
vsmtp_message_dup_bytes (VsmtpMessage  *self,
                         GError       **error)
{
  g_autoptr(GByteArray) array = NULL;

  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (self->spool_path == NULL)
    return self->edited ? g_bytes_ref (ensure_rendered (self)) : dup_memory_bytes (self);

  array = g_byte_array_sized_new (MIN (self->size, G_MAXUINT));
  if (!write_content (self, append_to_array, array, error))
    return NULL;

  return g_byte_array_free_to_bytes (g_steal_pointer (&array));
}

/**
 * vsmtp_message_open_stream:
 * @self: a message
 * @error: return location for a #GError
 *
 * Opens a stream that reads the whole content ([method@Vsmtp.Message.get_size]
 * bytes, the `Received:` header first, changes included) from its
 * beginning. Each call returns a new, independent stream. A spooled message
 * is read from its file, also once changed: the stream reads the header
 * fields from memory, then the body from the file.
 *
 * Returns: (transfer full): a new input stream, or %NULL on error
 */
GInputStream *
vsmtp_message_open_stream (VsmtpMessage  *self,
                           GError       **error)
{
  g_autoptr(GFile) file = NULL;
  g_autoptr(GFileInputStream) body = NULL;
  VsmtpConcatInputStream *concat;
  GBytes *header;

  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (self->spool_path == NULL)
    {
      g_autoptr(GBytes) bytes = NULL;

      bytes = self->edited ? g_bytes_ref (ensure_rendered (self)) : dup_memory_bytes (self);
      return g_memory_input_stream_new_from_bytes (bytes);
    }

  file = g_file_new_for_path (self->spool_path);
  body = g_file_read (file, NULL, error);
  if (body == NULL)
    return NULL;
  if (!self->edited)
    return G_INPUT_STREAM (g_steal_pointer (&body));

  if (!g_seekable_seek (G_SEEKABLE (body), self->tail_offset, G_SEEK_SET, NULL, error))
    return NULL;

  concat = vsmtp_concat_input_stream_new ();
  header = g_byte_array_free_to_bytes (_vsmtp_message_render_fields (self, 0));
  vsmtp_concat_input_stream_take (concat, g_memory_input_stream_new_from_bytes (header));
  vsmtp_concat_input_stream_take (concat, G_INPUT_STREAM (g_steal_pointer (&body)));
  g_bytes_unref (header);

  return G_INPUT_STREAM (concat);
}

typedef struct {
  int fd;
  const char *id;
} FdSink;

static gboolean
write_to_fd_sink (const guint8  *data,
                  gsize          length,
                  gpointer       user_data,
                  GError       **error)
{
  FdSink *sink = user_data;
  int saved_errno = write_all (sink->fd, data, length);

  if (saved_errno != 0)
    return set_errno_error (error, saved_errno, "Could not write message %s", sink->id);
  return TRUE;
}

/**
 * vsmtp_message_write_to_fd:
 * @self: a message
 * @fd: a file descriptor open for writing (a file, a pipe, a socket)
 * @error: return location for a #GError
 *
 * Writes the whole content ([method@Vsmtp.Message.get_size] bytes, the
 * `Received:` header first, changes included) to @fd, blocking until it is
 * written. The file descriptor is neither synced nor closed.
 *
 * Returns: %TRUE on success, %FALSE on error
 */
gboolean
vsmtp_message_write_to_fd (VsmtpMessage  *self,
                           int            fd,
                           GError       **error)
{
  FdSink sink = { fd, NULL };

  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (fd >= 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sink.id = self->id;

  return write_content (self, write_to_fd_sink, &sink, error);
}
