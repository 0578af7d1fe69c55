/* vsmtp-line-input-stream.c: a pollable, line-oriented filter input stream
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp-line-input-stream.h"

/*
 * VsmtpLineInputStream:
 *
 * A #GFilterInputStream that keeps the bytes it read from its base stream in
 * a buffer of its own and hands them out as lines (for SMTP commands) or as
 * raw bytes (for DATA and BDAT content), without ever blocking.
 *
 * It is also a regular, pollable #GInputStream: g_input_stream_read() and
 * g_pollable_input_stream_read_nonblocking() return the buffered bytes first
 * and only then read from the base stream. That is what makes STARTTLS work:
 * the stream is given as the input of the #GIOStream the TLS connection is
 * built on, and whatever the client sent after "STARTTLS" and the line
 * reader already buffered is handed to the TLS layer (never parsed as SMTP).
 * During the handshake glib-networking reads the stream on a worker thread;
 * the owner must not touch the stream meanwhile.
 *
 * Unlike #GDataInputStream, the stream never closes its base stream (the
 * #GFilterInputStream:close-base-stream property is forced to %FALSE).
 *
 * The buffer is one heap block used from a start offset: consuming a line
 * only moves the offset, the unconsumed bytes are moved to the front only
 * when a read needs room at the end. vsmtp_line_input_stream_release_memory()
 * frees the block when it is empty, so idle sessions cost little memory.
 */

#define READ_SIZE 16384
#define MIN_READ_SIZE 4096
#define DEFAULT_MAX_LINE_LENGTH 1000

struct _VsmtpLineInputStream
{
  GFilterInputStream parent_instance;

  guint8 *buf;          /* the block, or NULL */
  gsize   alloc;        /* its size */
  gsize   start;        /* offset of the first buffered byte */
  gsize   len;          /* number of buffered bytes from @start */
  gsize   scanned;      /* bytes from @start known to hold no LF */

  gsize   max_line_length;

  /* A line longer than the limit is being dropped: keep dropping bytes until
   * its LF, then report VSMTP_LINE_TOO_LONG once. */
  guint   discarding : 1;

  /* whether the base stream takes non-blocking reads: asked once (a
   * stream's answer never changes, and the base stream is construct-only),
   * not at every read */
  guint   base_pollable_known : 1;
  guint   base_pollable : 1;
};

static void vsmtp_line_input_stream_pollable_iface_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (VsmtpLineInputStream, vsmtp_line_input_stream, G_TYPE_FILTER_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      vsmtp_line_input_stream_pollable_iface_init))

enum {
  PROP_0,
  PROP_MAX_LINE_LENGTH,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static inline GInputStream *
get_base (VsmtpLineInputStream *self)
{
  /* the public field: no checked cast and call at every read */
  return ((GFilterInputStream *) self)->base_stream;
}

static inline guint8 *
buffer_data (VsmtpLineInputStream *self)
{
  return self->buf + self->start;
}

static void
buffer_clear (VsmtpLineInputStream *self)
{
  self->start = 0;
  self->len = 0;
  self->scanned = 0;
}

static void
buffer_consume (VsmtpLineInputStream *self,
                gsize                 count)
{
  g_assert (count <= self->len);

  if (count == self->len)
    {
      buffer_clear (self);
      return;
    }

  self->start += count;
  self->len -= count;
  self->scanned = self->scanned > count ? self->scanned - count : 0;
}

/* Blocks of READ_SIZE bytes that idle streams gave back, kept per thread
 * for the next stream that reads: a session releases its block each time
 * it has read all its input (vsmtp_line_input_stream_release_memory()),
 * and allocating and freeing 16 KiB each time is a large part of a small
 * pipelined transaction's cost. Eight blocks (128 KiB) at most stay in each thread. */
#define BLOCK_POOL_SIZE 8

typedef struct {
  guint n;
  guint8 *blocks[BLOCK_POOL_SIZE];
} BlockPool;

static void
block_pool_free (gpointer data)
{
  BlockPool *pool = data;

  while (pool->n > 0)
    g_free (pool->blocks[--pool->n]);
  g_free (pool);
}

static GPrivate block_pool_key = G_PRIVATE_INIT (block_pool_free);

/* Frees @self's block, or keeps it for another stream; the buffer is empty
 * afterwards. */
static void
buffer_release (VsmtpLineInputStream *self)
{
  BlockPool *pool;

  if (self->buf != NULL && self->alloc == READ_SIZE)
    {
      pool = g_private_get (&block_pool_key);
      if (pool == NULL)
        {
          pool = g_new0 (BlockPool, 1);
          g_private_set (&block_pool_key, pool);
        }
      if (pool->n < BLOCK_POOL_SIZE)
        {
          pool->blocks[pool->n++] = g_steal_pointer (&self->buf);
          self->alloc = 0;
        }
    }
  g_clear_pointer (&self->buf, g_free);
  self->alloc = 0;
  buffer_clear (self);
}

/* Makes room for a read after the buffered bytes (at least MIN_READ_SIZE),
 * moving the buffered bytes to the front of the block or growing it
 * (invalidating pointers into it). Returns the room. */
static gsize
buffer_reserve (VsmtpLineInputStream *self)
{
  gsize needed;

  if (self->alloc - self->start - self->len >= MIN_READ_SIZE)
    return self->alloc - self->start - self->len;

  if (self->start > 0)
    {
      if (self->len > 0)
        memmove (self->buf, self->buf + self->start, self->len);
      self->start = 0;
    }

  if (self->alloc - self->len >= MIN_READ_SIZE)
    return self->alloc - self->len;

  if (self->buf == NULL)
    {
      BlockPool *pool = g_private_get (&block_pool_key);

      if (pool != NULL && pool->n > 0)
        {
          self->buf = pool->blocks[--pool->n];
          self->alloc = READ_SIZE;
          self->start = 0;
          return self->alloc - self->len;
        }
    }

  if (self->len > G_MAXSIZE / 2 - READ_SIZE)
    g_error ("%s: buffer too large", G_STRFUNC);

  needed = MAX (self->len + READ_SIZE, self->alloc * 2);
  self->buf = g_realloc (self->buf, needed);
  self->alloc = needed;

  return self->alloc - self->len;
}

static gssize
buffer_read (VsmtpLineInputStream *self,
             void                 *buffer,
             gsize                 count)
{
  gsize n = MIN (count, self->len);

  memcpy (buffer, buffer_data (self), n);
  buffer_consume (self, n);

  return n;
}

/* GInputStream */

static gssize
vsmtp_line_input_stream_read_fn (GInputStream  *stream,
                                 void          *buffer,
                                 gsize          count,
                                 GCancellable  *cancellable,
                                 GError       **error)
{
  VsmtpLineInputStream *self = VSMTP_LINE_INPUT_STREAM (stream);

  if (self->len > 0)
    return buffer_read (self, buffer, count);

  return g_input_stream_read (get_base (self), buffer, count, cancellable, error);
}

static gssize
vsmtp_line_input_stream_skip (GInputStream  *stream,
                              gsize          count,
                              GCancellable  *cancellable,
                              GError       **error)
{
  VsmtpLineInputStream *self = VSMTP_LINE_INPUT_STREAM (stream);

  if (self->len > 0)
    {
      gsize n = MIN (count, self->len);

      buffer_consume (self, n);
      return n;
    }

  return g_input_stream_skip (get_base (self), count, cancellable, error);
}

/* GPollableInputStream */

static gboolean
vsmtp_line_input_stream_can_poll (GPollableInputStream *stream)
{
  GInputStream *base = get_base (VSMTP_LINE_INPUT_STREAM (stream));

  return G_IS_POLLABLE_INPUT_STREAM (base) &&
         g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (base));
}

static gboolean
vsmtp_line_input_stream_is_readable (GPollableInputStream *stream)
{
  VsmtpLineInputStream *self = VSMTP_LINE_INPUT_STREAM (stream);

  if (self->len > 0)
    return TRUE;

  return g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (get_base (self)));
}

static gssize
vsmtp_line_input_stream_read_nonblocking (GPollableInputStream  *stream,
                                          void                  *buffer,
                                          gsize                  count,
                                          GError               **error)
{
  VsmtpLineInputStream *self = VSMTP_LINE_INPUT_STREAM (stream);

  if (self->len > 0)
    return buffer_read (self, buffer, count);

  return g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (get_base (self)),
                                                   buffer, count, NULL, error);
}

static GSource *
vsmtp_line_input_stream_create_source (GPollableInputStream *stream,
                                       GCancellable         *cancellable)
{
  VsmtpLineInputStream *self = VSMTP_LINE_INPUT_STREAM (stream);
  GSource *base_source;
  GSource *source;

  if (self->len > 0)
    base_source = g_timeout_source_new (0);
  else
    base_source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (get_base (self)),
                                                         NULL);

  source = g_pollable_source_new_full (stream, base_source, cancellable);
  g_source_unref (base_source);

  return source;
}

static void
vsmtp_line_input_stream_pollable_iface_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = vsmtp_line_input_stream_can_poll;
  iface->is_readable = vsmtp_line_input_stream_is_readable;
  iface->read_nonblocking = vsmtp_line_input_stream_read_nonblocking;
  iface->create_source = vsmtp_line_input_stream_create_source;
}

/* GObject */

static void
vsmtp_line_input_stream_constructed (GObject *object)
{
  G_OBJECT_CLASS (vsmtp_line_input_stream_parent_class)->constructed (object);

  /* Never close the base stream: it belongs to the connection. */
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (object), FALSE);
}

static void
vsmtp_line_input_stream_finalize (GObject *object)
{
  VsmtpLineInputStream *self = VSMTP_LINE_INPUT_STREAM (object);

  buffer_release (self);

  G_OBJECT_CLASS (vsmtp_line_input_stream_parent_class)->finalize (object);
}

static void
vsmtp_line_input_stream_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  VsmtpLineInputStream *self = VSMTP_LINE_INPUT_STREAM (object);

  switch (prop_id)
    {
    case PROP_MAX_LINE_LENGTH:
      g_value_set_uint64 (value, self->max_line_length);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtp_line_input_stream_set_property (GObject      *object,
                                      guint         prop_id,
                                      const GValue *value,
                                      GParamSpec   *pspec)
{
  VsmtpLineInputStream *self = VSMTP_LINE_INPUT_STREAM (object);

  switch (prop_id)
    {
    case PROP_MAX_LINE_LENGTH:
      vsmtp_line_input_stream_set_max_line_length (self, (gsize) MIN (g_value_get_uint64 (value), G_MAXSIZE));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vsmtp_line_input_stream_class_init (VsmtpLineInputStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  object_class->constructed = vsmtp_line_input_stream_constructed;
  object_class->finalize = vsmtp_line_input_stream_finalize;
  object_class->get_property = vsmtp_line_input_stream_get_property;
  object_class->set_property = vsmtp_line_input_stream_set_property;

  stream_class->read_fn = vsmtp_line_input_stream_read_fn;
  stream_class->skip = vsmtp_line_input_stream_skip;

  /**
   * VsmtpLineInputStream:max-line-length:
   *
   * The longest line accepted, in bytes, counting its terminator (CRLF or
   * LF). Longer lines are dropped and reported as %VSMTP_LINE_TOO_LONG.
   * 0 means no limit.
   */
  properties[PROP_MAX_LINE_LENGTH] =
    g_param_spec_uint64 ("max-line-length", NULL, NULL,
                         0, G_MAXUINT64, DEFAULT_MAX_LINE_LENGTH,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
vsmtp_line_input_stream_init (VsmtpLineInputStream *self)
{
  self->max_line_length = DEFAULT_MAX_LINE_LENGTH;
}

/**
 * vsmtp_line_input_stream_new:
 * @base_stream: the stream to read from
 * @max_line_length: the longest line accepted, terminator included (0: no limit)
 *
 * Creates a line input stream over @base_stream. The base stream is never
 * closed by the new stream. For the non-blocking functions
 * (vsmtp_line_input_stream_fill_nonblocking(), polling) @base_stream must be
 * a #GPollableInputStream that can poll.
 *
 * Returns: (transfer full): a new #VsmtpLineInputStream
 */
VsmtpLineInputStream *
vsmtp_line_input_stream_new (GInputStream *base_stream,
                             gsize         max_line_length)
{
  g_return_val_if_fail (G_IS_INPUT_STREAM (base_stream), NULL);

  return g_object_new (VSMTP_TYPE_LINE_INPUT_STREAM,
                       "base-stream", base_stream,
                       "close-base-stream", FALSE,
                       "max-line-length", (guint64) max_line_length,
                       NULL);
}

/**
 * vsmtp_line_input_stream_get_max_line_length:
 * @self: a #VsmtpLineInputStream
 *
 * Returns: the line length limit, terminator included (0: no limit)
 */
gsize
vsmtp_line_input_stream_get_max_line_length (VsmtpLineInputStream *self)
{
  g_return_val_if_fail (VSMTP_IS_LINE_INPUT_STREAM (self), 0);

  return self->max_line_length;
}

/**
 * vsmtp_line_input_stream_set_max_line_length:
 * @self: a #VsmtpLineInputStream
 * @max_line_length: the longest line accepted, terminator included (0: no limit)
 *
 * Sets the line length limit. It applies from the next call to
 * vsmtp_line_input_stream_next_line().
 */
void
vsmtp_line_input_stream_set_max_line_length (VsmtpLineInputStream *self,
                                             gsize                 max_line_length)
{
  g_return_if_fail (VSMTP_IS_LINE_INPUT_STREAM (self));

  if (self->max_line_length == max_line_length)
    return;

  self->max_line_length = max_line_length;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_LINE_LENGTH]);
}

/**
 * vsmtp_line_input_stream_fill_nonblocking:
 * @self: a #VsmtpLineInputStream
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Reads once from the base stream, without blocking, into the buffer (at
 * most 16 KiB at a time). If the base stream is not pollable, this does a
 * blocking read instead.
 *
 * Returns: the number of bytes read, 0 at end of stream, or -1 with @error
 *   set (%G_IO_ERROR_WOULD_BLOCK when nothing is available yet)
 */
gssize
vsmtp_line_input_stream_fill_nonblocking (VsmtpLineInputStream  *self,
                                          GCancellable          *cancellable,
                                          GError               **error)
{
  GInputStream *base;
  gsize room;
  gssize n;

  g_return_val_if_fail (VSMTP_IS_LINE_INPUT_STREAM (self), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  base = get_base (self);
  room = MIN (buffer_reserve (self), READ_SIZE);

  if (G_UNLIKELY (!self->base_pollable_known))
    {
      self->base_pollable = G_IS_POLLABLE_INPUT_STREAM (base) &&
                            g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (base));
      self->base_pollable_known = TRUE;
    }

  if (self->base_pollable)
    {
      /* a non-blocking read returns at once: @cancellable is checked here
       * rather than made the thread's current one around the read (a list
       * node allocated and freed per read) */
      if (cancellable != NULL && g_cancellable_set_error_if_cancelled (cancellable, error))
        return -1;
      n = g_pollable_input_stream_read_nonblocking ((GPollableInputStream *) base,
                                                    self->buf + self->start + self->len,
                                                    room, NULL, error);
    }
  else
    n = g_input_stream_read (base,
                             self->buf + self->start + self->len,
                             room, cancellable, error);

  if (n > 0)
    self->len += n;

  return n;
}

/* Looks for the next LF, starting where the previous scan stopped. */
static guint8 *
find_lf (VsmtpLineInputStream *self)
{
  guint8 *lf;

  if (self->len == 0)
    return NULL;

  lf = memchr (buffer_data (self) + self->scanned, '\n', self->len - self->scanned);
  if (lf == NULL)
    self->scanned = self->len;

  return lf;
}

/**
 * vsmtp_line_input_stream_next_line:
 * @self: a #VsmtpLineInputStream
 * @line: (out) (transfer none): return location for the line
 * @length: (out): return location for the length of the line
 *
 * Takes the next complete line from the buffer, without reading.
 *
 * On %VSMTP_LINE_OK, @line points into the buffer, at the line without its
 * terminator (CRLF, or a lone LF) and NUL-terminated; @length is its length.
 * The line may hold NUL bytes (then strlen (@line) != @length). The pointer
 * stays valid until the next call on the stream.
 *
 * A line of more than #VsmtpLineInputStream:max-line-length bytes, its
 * terminator included, is dropped as it arrives; once its LF arrives,
 * %VSMTP_LINE_TOO_LONG is returned, once, and the following lines are
 * returned normally.
 *
 * Returns: %VSMTP_LINE_OK, %VSMTP_LINE_TOO_LONG, or %VSMTP_LINE_NONE when no
 *   complete line is buffered (read more)
 */
VsmtpLineStatus
vsmtp_line_input_stream_next_line (VsmtpLineInputStream  *self,
                                   char                 **line,
                                   gsize                 *length)
{
  guint8 *data;
  guint8 *lf;
  gsize line_len;   /* with the LF */
  gsize content_len;

  g_return_val_if_fail (VSMTP_IS_LINE_INPUT_STREAM (self), VSMTP_LINE_NONE);
  g_return_val_if_fail (line != NULL, VSMTP_LINE_NONE);
  g_return_val_if_fail (length != NULL, VSMTP_LINE_NONE);

  *line = NULL;
  *length = 0;

  lf = find_lf (self);

  if (lf == NULL)
    {
      if (self->discarding ||
          (self->max_line_length > 0 && self->len >= self->max_line_length))
        {
          /* Too long already: drop what we have, and what follows up to
           * the LF. */
          self->discarding = TRUE;
          buffer_clear (self);
        }

      return VSMTP_LINE_NONE;
    }

  data = buffer_data (self);
  line_len = lf - data + 1;

  if (self->discarding ||
      (self->max_line_length > 0 && line_len > self->max_line_length))
    {
      self->discarding = FALSE;
      buffer_consume (self, line_len);
      return VSMTP_LINE_TOO_LONG;
    }

  content_len = line_len - 1;
  if (content_len > 0 && data[content_len - 1] == '\r')
    content_len--;
  data[content_len] = '\0';

  buffer_consume (self, line_len);
  /* Consuming never moves the bytes, and a fully consumed buffer keeps its
   * block until the next read or release_memory(). */
  *line = (char *) data;
  *length = content_len;

  return VSMTP_LINE_OK;
}

/**
 * vsmtp_line_input_stream_has_line:
 * @self: a #VsmtpLineInputStream
 *
 * Returns: %TRUE if vsmtp_line_input_stream_next_line() would return
 *   something else than %VSMTP_LINE_NONE
 */
gboolean
vsmtp_line_input_stream_has_line (VsmtpLineInputStream *self)
{
  g_return_val_if_fail (VSMTP_IS_LINE_INPUT_STREAM (self), FALSE);

  return find_lf (self) != NULL;
}

/**
 * vsmtp_line_input_stream_peek_buffer:
 * @self: a #VsmtpLineInputStream
 * @length: (out): return location for the number of buffered bytes
 *
 * Gives access to the buffered bytes without consuming them; see
 * vsmtp_line_input_stream_skip_buffer().
 *
 * Returns: (transfer none) (nullable): the buffered bytes, valid until the
 *   next call on the stream (other than get_buffered())
 */
const guint8 *
vsmtp_line_input_stream_peek_buffer (VsmtpLineInputStream *self,
                                     gsize                *length)
{
  g_return_val_if_fail (VSMTP_IS_LINE_INPUT_STREAM (self), NULL);
  g_return_val_if_fail (length != NULL, NULL);

  *length = self->len;

  return self->buf != NULL ? buffer_data (self) : NULL;
}

/**
 * vsmtp_line_input_stream_skip_buffer:
 * @self: a #VsmtpLineInputStream
 * @count: the number of bytes to consume, at most the number buffered
 *
 * Consumes @count buffered bytes.
 */
void
vsmtp_line_input_stream_skip_buffer (VsmtpLineInputStream *self,
                                     gsize                 count)
{
  g_return_if_fail (VSMTP_IS_LINE_INPUT_STREAM (self));
  g_return_if_fail (count <= self->len);

  buffer_consume (self, count);
}

/**
 * vsmtp_line_input_stream_get_buffered:
 * @self: a #VsmtpLineInputStream
 *
 * Returns: the number of bytes buffered and not consumed yet
 */
gsize
vsmtp_line_input_stream_get_buffered (VsmtpLineInputStream *self)
{
  g_return_val_if_fail (VSMTP_IS_LINE_INPUT_STREAM (self), 0);

  return self->len;
}

/**
 * vsmtp_line_input_stream_push_back:
 * @self: a #VsmtpLineInputStream
 * @data: (array length=length): the bytes
 * @length: the number of bytes
 *
 * Puts @data in front of the buffered bytes: it is what the next read or
 * line returns first.
 */
void
vsmtp_line_input_stream_push_back (VsmtpLineInputStream *self,
                                   const void           *data,
                                   gsize                 length)
{
  g_return_if_fail (VSMTP_IS_LINE_INPUT_STREAM (self));
  g_return_if_fail (data != NULL || length == 0);

  if (length == 0)
    return;

  if (self->start < length)
    {
      gsize old_len = self->len;
      gsize alloc;
      guint8 *buf;

      g_return_if_fail (length <= G_MAXSIZE - old_len - READ_SIZE);

      alloc = MAX (self->alloc, length + old_len + READ_SIZE);
      buf = g_malloc (alloc);
      if (old_len > 0)
        memcpy (buf + length, buffer_data (self), old_len);
      g_free (self->buf);
      self->buf = buf;
      self->alloc = alloc;
      self->start = length;
    }

  self->start -= length;
  self->len += length;
  memcpy (buffer_data (self), data, length);
  self->scanned = 0;
}

/**
 * vsmtp_line_input_stream_release_memory:
 * @self: a #VsmtpLineInputStream
 *
 * Frees the buffer if it is empty, or shrinks it to what it holds if most of
 * it is unused. Call it when the session goes idle.
 */
void
vsmtp_line_input_stream_release_memory (VsmtpLineInputStream *self)
{
  g_return_if_fail (VSMTP_IS_LINE_INPUT_STREAM (self));

  if (self->len == 0)
    {
      buffer_release (self);
      return;
    }

  if (self->alloc > READ_SIZE && self->len < self->alloc / 4)
    {
      guint8 *buf = g_memdup2 (buffer_data (self), self->len);

      g_free (self->buf);
      self->buf = buf;
      self->alloc = self->len;
      self->start = 0;
    }
}
