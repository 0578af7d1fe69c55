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

#include "vsmtp-error.h"
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

/* How the content is kept.
 *
 * The "source" is what was received (self->bytes in memory, or the file
 * self->spool_path; self->source_size bytes), or after a body replacement
 * the new body. Until the first change, the content is the source as is,
 * and every reader takes the fast path it always took.
 *
 * A change first parses the header section (at most HEADER_WINDOW bytes)
 * into self->fields, a small array of Field, each the exact bytes of one
 * field, line ends included. The content then is those fields, followed by
 * the source from self->tail_offset on: the empty line and the body, or
 * after a replacement "\r\n" and the new body. The body is never copied
 * for a header change. */
typedef struct {
  gsize length;         /* of raw */
  gsize name_length;    /* the name is raw[0, name_length) */
  gsize value_offset;   /* just after the colon */
  char raw[];           /* NUL-terminated */
} Field;

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

  /* Changes: see "How the content is kept" above. */
  guint64    source_size;
  GPtrArray *fields;            /* of Field; NULL until parsed */
  guint64    tail_offset;       /* where the content after the fields begins in the source */
  GBytes    *rendered;          /* get_bytes() of a changed message in memory */

  guint finished : 1;
  guint failed : 1;
  guint edited : 1;             /* the content is fields + source from tail_offset */
  guint header_truncated : 1;   /* the header section goes on after the parsed fields */
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

/* Receives the content chunk by chunk. Returns FALSE to stop: with @error
 * set on failure, without to stop early. */
typedef gboolean (*ChunkFunc) (const guint8  *data,
                               gsize          length,
                               gpointer       user_data,
                               GError       **error);

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

/* Passes the source's bytes [from, to) to @func (to: G_MAXUINT64 for its
 * end), from memory or read from the spool file in COPY_BUFFER_SIZE
 * chunks. */
static gboolean
copy_source (VsmtpMessage  *self,
             guint64        from,
             guint64        to,
             ChunkFunc      func,
             gpointer       user_data,
             GError       **error)
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

static gsize
fields_size (VsmtpMessage *self)
{
  gsize size = 0;
  guint i;

  for (i = 0; i < self->fields->len; i++)
    size += ((Field *) g_ptr_array_index (self->fields, i))->length;

  return size;
}

/* The header fields of a changed message, one after the other. */
static GByteArray *
render_fields (VsmtpMessage *self,
               gsize         reserve)
{
  GByteArray *block = g_byte_array_sized_new (fields_size (self) + reserve);
  guint i;

  for (i = 0; i < self->fields->len; i++)
    {
      const Field *field = g_ptr_array_index (self->fields, i);

      g_byte_array_append (block, (const guint8 *) field->raw, field->length);
    }

  return block;
}

/* Passes the whole content to @func. */
static gboolean
write_content (VsmtpMessage  *self,
               ChunkFunc      func,
               gpointer       user_data,
               GError       **error)
{
  if (self->edited)
    {
      g_autoptr(GByteArray) block = render_fields (self, 0);

      if (!func (block->data, block->len, user_data, error))
        return FALSE;
      return copy_source (self, self->tail_offset, G_MAXUINT64, func, user_data, error);
    }

  return copy_source (self, 0, G_MAXUINT64, func, user_data, error);
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

/* The content of a changed message held in memory. */
static GBytes *
ensure_rendered (VsmtpMessage *self)
{
  GBytes *rendered = g_atomic_pointer_get (&self->rendered);

  if (rendered == NULL)
    {
      GByteArray *array = render_fields (self, self->source_size - self->tail_offset);

      copy_source (self, self->tail_offset, G_MAXUINT64, append_to_array, array, NULL);
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

/* A stream that reads several streams one after the other: the header
 * fields of a changed message, then its body from the spool file. */
#define MESSAGE_TYPE_CONCAT_STREAM (message_concat_stream_get_type ())
G_DECLARE_FINAL_TYPE (MessageConcatStream, message_concat_stream, MESSAGE, CONCAT_STREAM, GInputStream)

struct _MessageConcatStream
{
  GInputStream parent_instance;

  GPtrArray *streams;
  guint current;
};

G_DEFINE_FINAL_TYPE (MessageConcatStream, message_concat_stream, G_TYPE_INPUT_STREAM)

static gssize
message_concat_stream_read (GInputStream  *stream,
                            void          *buffer,
                            gsize          count,
                            GCancellable  *cancellable,
                            GError       **error)
{
  MessageConcatStream *self = (MessageConcatStream *) stream;

  while (self->current < self->streams->len)
    {
      gssize n = g_input_stream_read (g_ptr_array_index (self->streams, self->current),
                                      buffer, count, cancellable, error);

      if (n != 0)
        return n;
      self->current++;
    }

  return 0;
}

static gboolean
message_concat_stream_close (GInputStream  *stream,
                             GCancellable  *cancellable,
                             GError       **error)
{
  MessageConcatStream *self = (MessageConcatStream *) stream;
  gboolean ok = TRUE;
  guint i;

  for (i = 0; i < self->streams->len; i++)
    {
      GInputStream *part = g_ptr_array_index (self->streams, i);

      if (!g_input_stream_close (part, cancellable, ok ? error : NULL))
        ok = FALSE;
    }

  return ok;
}

static void
message_concat_stream_finalize (GObject *object)
{
  MessageConcatStream *self = (MessageConcatStream *) object;

  g_clear_pointer (&self->streams, g_ptr_array_unref);

  G_OBJECT_CLASS (message_concat_stream_parent_class)->finalize (object);
}

static void
message_concat_stream_class_init (MessageConcatStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  object_class->finalize = message_concat_stream_finalize;
  stream_class->read_fn = message_concat_stream_read;
  stream_class->close_fn = message_concat_stream_close;
}

static void
message_concat_stream_init (MessageConcatStream *self)
{
  self->streams = g_ptr_array_new_with_free_func (g_object_unref);
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
  MessageConcatStream *concat;
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

  concat = g_object_new (MESSAGE_TYPE_CONCAT_STREAM, NULL);
  header = g_byte_array_free_to_bytes (render_fields (self, 0));
  g_ptr_array_add (concat->streams, g_memory_input_stream_new_from_bytes (header));
  g_ptr_array_add (concat->streams, g_steal_pointer (&body));
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

/* The header section ------------------------------------------------------ */

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

/* The first HEADER_WINDOW bytes of the source. */
static GBytes *
read_source_window (VsmtpMessage  *self,
                    GError       **error)
{
  g_autoptr(GByteArray) array = g_byte_array_new ();

  if (self->spool_path == NULL)
    {
      g_autoptr(GBytes) bytes = dup_memory_bytes (self);

      return g_bytes_new_from_bytes (bytes, 0, MIN (g_bytes_get_size (bytes), HEADER_WINDOW));
    }

  if (!copy_source (self, 0, HEADER_WINDOW, append_to_array, array, error))
    return NULL;

  return g_byte_array_free_to_bytes (g_steal_pointer (&array));
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

/* Parses the header section into self->fields, once. */
static gboolean
ensure_fields (VsmtpMessage  *self,
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

  window = read_source_window (self, error);
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
  if (!self->finished || !ensure_fields (self, NULL))
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

  if (!ensure_fields (self, NULL))
    return 0;

  return self->fields->len;
}

static const Field *
get_field (VsmtpMessage *self,
           guint         index)
{
  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), NULL);
  g_return_val_if_fail (self->finished, NULL);

  if (!ensure_fields (self, NULL) || index >= self->fields->len)
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
         ensure_fields (self, error);
}

static void
update_size (VsmtpMessage *self)
{
  guint64 size = fields_size (self) + self->source_size - self->tail_offset;

  if (size != self->size)
    {
      self->size = size;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIZE]);
    }
}

/* Before a change: from now on the content is the fields, then the source
 * from tail_offset. */
static void
begin_edit (VsmtpMessage *self)
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

  begin_edit (self);
  g_ptr_array_insert (self->fields, MIN (index, self->fields->len), field_new (name, value));
  update_size (self);

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

  begin_edit (self);
  if (value == NULL)
    g_ptr_array_remove_index (self->fields, index);
  else
    {
      g_free (g_ptr_array_index (self->fields, index));
      g_ptr_array_index (self->fields, index) = field_new (name, value);
    }
  update_size (self);

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
  if (!ensure_fields (self, &error))
    {
      g_warning ("Could not delete header field %s of message %s: %s",
                 name, self->id, error->message);
      return FALSE;
    }

  index = find_field (self, name, occurrence);
  if (index < 0)
    return FALSE;

  begin_edit (self);
  g_ptr_array_remove_index (self->fields, index);
  update_size (self);

  return TRUE;
}

/* Body replacement --------------------------------------------------------- */

/* Writes a new body into a message of its own (in memory, spooled once
 * larger than the threshold), with every line end made CRLF. */
typedef struct {
  VsmtpMessage *spool;
  GByteArray *out;
  GCancellable *cancellable;
  guint64 body_length;
  guint8 last;
  gboolean pending_cr;
} BodyWriter;

static gboolean
body_writer_write (const guint8  *data,
                   gsize          length,
                   gpointer       user_data,
                   GError       **error)
{
  BodyWriter *writer = user_data;
  gsize i = 0;

  if (g_cancellable_set_error_if_cancelled (writer->cancellable, error))
    return FALSE;
  if (length == 0)
    return TRUE;
  if (memchr (data, '\0', length) != NULL)
    {
      g_set_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX,
                   "NUL character in the new body of message %s", writer->spool->id);
      return FALSE;
    }

  g_byte_array_set_size (writer->out, 0);
  while (i < length)
    {
      gsize start = i;

      if (writer->pending_cr)
        {
          writer->pending_cr = FALSE;
          g_byte_array_append (writer->out, (const guint8 *) "\r\n", 2);
          if (data[i] == '\n')
            i++;
          continue;
        }

      while (i < length && data[i] != '\r' && data[i] != '\n')
        i++;
      g_byte_array_append (writer->out, data + start, i - start);
      if (i < length)
        {
          if (data[i] == '\r')
            writer->pending_cr = TRUE;
          else
            g_byte_array_append (writer->out, (const guint8 *) "\r\n", 2);
          i++;
        }
    }

  writer->body_length += length;
  writer->last = data[length - 1];

  return _vsmtp_message_append (writer->spool, writer->out->data, writer->out->len, error);
}

/* The last line ends with CRLF too, as in content received with DATA. */
static gboolean
body_writer_finish (BodyWriter  *writer,
                    GError     **error)
{
  if (writer->pending_cr || (writer->body_length > 0 && writer->last != '\n'))
    {
      if (!_vsmtp_message_append (writer->spool, "\r\n", 2, error))
        return FALSE;
    }

  return _vsmtp_message_finish (writer->spool, error);
}

/* Header fields beyond the window are kept: copies them from the source, in
 * chunks, up to the end of the header section. */
static gboolean
copy_header_rest (VsmtpMessage  *self,
                  BodyWriter    *writer,
                  GError       **error)
{
  HeaderScanner scan;

  header_scanner_init (&scan, self->tail_offset, NULL);
  scan.seen_field = self->fields->len > 0;
  if (!copy_source (self, self->tail_offset, G_MAXUINT64, header_scanner_feed, &scan, error))
    return FALSE;
  header_scanner_finish (&scan);

  return copy_source (self, self->tail_offset, scan.end, body_writer_write, writer, error);
}

static gboolean
replace_body (VsmtpMessage  *self,
              GInputStream  *stream,
              GCancellable  *cancellable,
              GError       **error)
{
  g_autoptr(VsmtpMessage) spool = NULL;
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autofree guint8 *buffer = NULL;
  BodyWriter writer = { 0 };

  if (!ensure_fields (self, error))
    return FALSE;

  spool = _vsmtp_message_new_writable (self->id, NULL, self->spool_threshold, self->spool_directory);
  writer.spool = spool;
  writer.out = out;
  writer.cancellable = cancellable;

  if (self->header_truncated && !copy_header_rest (self, &writer, error))
    return FALSE;

  /* The empty line between the header section and the body. */
  if (!_vsmtp_message_append (spool, "\r\n", 2, error))
    return FALSE;
  writer.body_length = 0;

  buffer = g_malloc (COPY_BUFFER_SIZE);
  for (;;)
    {
      gssize n = g_input_stream_read (stream, buffer, COPY_BUFFER_SIZE, cancellable, error);

      if (n < 0)
        return FALSE;
      if (n == 0)
        break;
      if (!body_writer_write (buffer, n, &writer, error))
        return FALSE;
    }

  if (!body_writer_finish (&writer, error))
    return FALSE;

  /* Take the new source; the old spool file goes. */
  begin_edit (self);
  if (self->spool_path != NULL && g_unlink (self->spool_path) != 0 && errno != ENOENT)
    g_warning ("Could not remove spool file %s: %s", self->spool_path, g_strerror (errno));
  g_clear_pointer (&self->spool_path, g_free);
  g_clear_pointer (&self->bytes, g_bytes_unref);
  self->spool_path = g_steal_pointer (&spool->spool_path);
  self->bytes = g_steal_pointer (&spool->bytes);
  self->source_size = spool->size;
  self->tail_offset = 0;
  self->header_truncated = FALSE;
  update_size (self);

  return TRUE;
}

/**
 * vsmtp_message_replace_body_from_stream:
 * @self: a message
 * @stream: the new body
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Replaces the body of the message (what follows the header section and its
 * empty line) with what @stream gives until its end, like libmilter's
 * `smfi_replacebody`. The header fields stay (change them with
 * [method@Vsmtp.Message.change_header]: a `Content-Type` or
 * `Content-Transfer-Encoding` that no longer fits, for instance), and an
 * empty line separates them from the new body, also in a message that had
 * no body.
 *
 * The new body is read in chunks and never held in memory whole: like the
 * content received, it stays in memory up to the server's
 * [property@Vsmtp.Server:spool-threshold] and goes to a spool file in its
 * [property@Vsmtp.Server:spool-directory] beyond
 * ([method@Vsmtp.Message.is_spooled]). Every line end is stored as CRLF (a
 * bare LF or CR becomes CRLF, a last line without one gets one), as in
 * content received; a NUL byte is refused with %VSMTP_ERROR_SYNTAX.
 * @stream is read, not closed.
 *
 * On error (reading @stream, writing the spool file, cancelled) the message
 * is unchanged.
 *
 * This blocks while reading @stream and writing the spool file: give it a
 * stream that reads from memory or a local file, or replace the body from a
 * thread.
 *
 * Returns: %TRUE if the body was replaced, %FALSE on error
 */
gboolean
vsmtp_message_replace_body_from_stream (VsmtpMessage  *self,
                                        GInputStream  *stream,
                                        GCancellable  *cancellable,
                                        GError       **error)
{
  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (self->finished, FALSE);
  g_return_val_if_fail (G_IS_INPUT_STREAM (stream), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return replace_body (self, stream, cancellable, error);
}

/**
 * vsmtp_message_replace_body_from_bytes:
 * @self: a message
 * @body: the new body
 * @error: return location for a #GError
 *
 * Replaces the body of the message with @body: see
 * [method@Vsmtp.Message.replace_body_from_stream], which this is for a
 * body already in memory (its line ends made CRLF, kept in memory or
 * spooled like a body read from a stream).
 *
 * Returns: %TRUE if the body was replaced, %FALSE on error
 */
gboolean
vsmtp_message_replace_body_from_bytes (VsmtpMessage  *self,
                                       GBytes        *body,
                                       GError       **error)
{
  g_autoptr(GInputStream) stream = NULL;

  g_return_val_if_fail (VSMTP_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (self->finished, FALSE);
  g_return_val_if_fail (body != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* read in chunks too: the normalized copy is never whole in memory */
  stream = g_memory_input_stream_new_from_bytes (body);

  return replace_body (self, stream, NULL, error);
}
