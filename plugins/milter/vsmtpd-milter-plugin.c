/* vsmtpd-milter-plugin.c: passes each session to milters (OpenDKIM,
 * rspamd, any libmilter filter) and applies what they decide
 *
 * Each session talks to each configured milter over a connection of its
 * own, opened when the client connects: the macros and the command of every
 * SMTP step, then for the message its header fields, its body in chunks of
 * at most 64 KiB streamed from the spool, and the end of the message, after
 * which the filter's changes (header fields, envelope, body) are applied to
 * the message the delivery plugins get. Milters run in the configured order
 * and the first that does not say "continue" decides; at the end of the
 * message each sees the message as changed by those before it.
 *
 * A milter that cannot be reached, times out, or answers nonsense gets the
 * configured default action: tempfail (every command of the session gets
 * 451 4.7.1, nothing is accepted on its behalf) or accept (the session goes
 * on without that milter). A reject is 550 5.7.1, a tempfail 451 4.7.1, a
 * custom reply as the filter wrote it; discard accepts the message with 250
 * and delivers nothing; quarantine keeps it out of delivery in the
 * quarantine maildir.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "vsmtpd-milter"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <libpeas/peas.h>
#include <vsmtp.h>

#include "milter-conn.h"

#define VSMTPD_TYPE_MILTER_PLUGIN (vsmtpd_milter_plugin_get_type ())
G_DECLARE_FINAL_TYPE (VsmtpdMilterPlugin, vsmtpd_milter_plugin, VSMTPD, MILTER_PLUGIN, VsmtpPlugin)

struct _VsmtpdMilterPlugin
{
  VsmtpPlugin  parent_instance;

  GPtrArray   *specs;            /* MilterSpec, in order */
  guint       *open_connections; /* per milter */
  guint        max_connections;  /* per milter, 0: unlimited */
  gboolean     default_accept;   /* else tempfail */
  char        *quarantine;       /* maildir */
  guint64      discarded;
  guint64      quarantined;
  gulong       new_session_id;
};

G_DEFINE_DYNAMIC_TYPE_EXTENDED (VsmtpdMilterPlugin, vsmtpd_milter_plugin, VSMTP_TYPE_PLUGIN,
                                G_TYPE_FLAG_FINAL, {})

/* ------------------------------------------------------------------------ */
/* Per session                                                              */

typedef enum {
  MILTER_ACTIVE,
  MILTER_ACCEPTED_SESSION,   /* ACCEPT at connect or HELO: no more for the session */
  MILTER_ACCEPTED_MESSAGE,   /* ACCEPT in a transaction: none until the next MAIL */
  MILTER_FAILED,             /* unreachable or broken: the default action */
} MilterState;

typedef struct {
  MilterConn  *conn;
  MilterState  state;
  gboolean     counted;      /* holds one of the milter's open connections */
  gboolean     in_message;   /* MAIL sent, end of message not yet */
} SessionMilter;

typedef struct {
  VsmtpdMilterPlugin *plugin;     /* strong */
  guint               n;
  SessionMilter      *milters;
  guint               transaction;
  char               *discard_by;    /* a milter discarded the message at MAIL/RCPT */
} SessionState;

static void
session_state_free (gpointer data)
{
  SessionState *st = data;

  for (guint i = 0; i < st->n; i++)
    {
      SessionMilter *m = &st->milters[i];

      if (m->conn != NULL)
        {
          milter_conn_close (m->conn);
          milter_conn_unref (m->conn);
        }
      if (m->counted)
        st->plugin->open_connections[i]--;
    }
  g_free (st->milters);
  g_free (st->discard_by);
  g_object_unref (st->plugin);
  g_free (st);
}

static SessionState *
session_state (VsmtpSession *session)
{
  return g_object_get_data (G_OBJECT (session), "vsmtpd-milter");
}

/* ------------------------------------------------------------------------ */
/* Macros                                                                   */

typedef struct {
  GPtrArray *names;
  GPtrArray *values;
} Macros;

static void
macros_init (Macros *m)
{
  m->names = g_ptr_array_new ();
  m->values = g_ptr_array_new_with_free_func (g_free);
}

static void
macros_clear (Macros *m)
{
  g_ptr_array_unref (m->names);
  g_ptr_array_unref (m->values);
}

static void
macros_add (Macros     *m,
            const char *name,
            char       *value)   /* taken */
{
  if (value == NULL)
    return;
  g_ptr_array_add (m->names, (gpointer) name);
  g_ptr_array_add (m->values, value);
}

static char *
socket_address_ip (GSocketAddress *address)
{
  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return NULL;
  return g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));
}

static const char *
tls_version_name (GTlsProtocolVersion version)
{
  switch (version)
    {
    case G_TLS_PROTOCOL_VERSION_TLS_1_0: return "TLSv1";
    case G_TLS_PROTOCOL_VERSION_TLS_1_1: return "TLSv1.1";
    case G_TLS_PROTOCOL_VERSION_TLS_1_2: return "TLSv1.2";
    case G_TLS_PROTOCOL_VERSION_TLS_1_3: return "TLSv1.3";
    default: return NULL;
    }
}

static char *
queue_id (VsmtpSession *session,
          SessionState *st)
{
  return g_strdup_printf ("%s.%u", vsmtp_session_get_id (session), st->transaction);
}

/* The macros a stage sends, as Postfix sends them (its milter_*_macros
 * defaults), with this session's values */
static void
collect_macros (VsmtpSession  *session,
                SessionState  *st,
                MilterStage    stage,
                VsmtpAddress  *address,
                VsmtpMessage  *message,
                Macros        *m)
{
  VsmtpServer *server = vsmtp_session_get_server (session);
  GSocketAddress *remote = vsmtp_session_get_remote_address (session);

  switch (stage)
    {
    case MILTER_STAGE_CONNECT:
      {
        GIOStream *stream = vsmtp_session_get_stream (session);
        g_autoptr(GSocketAddress) local = NULL;
        char *client = socket_address_ip (remote);

        if (G_IS_SOCKET_CONNECTION (stream))
          local = g_socket_connection_get_local_address (G_SOCKET_CONNECTION (stream), NULL);
        else if (G_IS_TLS_CONNECTION (stream))
          {
            GIOStream *base = NULL;

            g_object_get (stream, "base-io-stream", &base, NULL);
            if (G_IS_SOCKET_CONNECTION (base))
              local = g_socket_connection_get_local_address (G_SOCKET_CONNECTION (base), NULL);
            g_clear_object (&base);
          }
        macros_add (m, "j", g_strdup (server ? vsmtp_server_get_hostname (server) : g_get_host_name ()));
        macros_add (m, "{daemon_name}", g_strdup ("vsmtpd"));
        macros_add (m, "{daemon_addr}", socket_address_ip (local));
        if (G_IS_INET_SOCKET_ADDRESS (local))
          macros_add (m, "{daemon_port}", g_strdup_printf ("%u", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local))));
        macros_add (m, "v", g_strdup ("vsmtpd " PACKAGE_VERSION));
        macros_add (m, "_", g_strdup_printf ("unknown [%s]", client ? client : "127.0.0.1"));
        macros_add (m, "{client_addr}", g_strdup (client));
        if (G_IS_INET_SOCKET_ADDRESS (remote))
          macros_add (m, "{client_port}", g_strdup_printf ("%u", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (remote))));
        /* no reverse lookup is made: Postfix's value for an unknown name */
        macros_add (m, "{client_name}", g_strdup ("unknown"));
        macros_add (m, "{client_ptr}", g_strdup ("unknown"));
        macros_add (m, "{if_name}", g_strdup (server ? vsmtp_server_get_hostname (server) : g_get_host_name ()));
        macros_add (m, "{if_addr}", socket_address_ip (local));
        g_free (client);
      }
      break;

    case MILTER_STAGE_HELO:
      if (vsmtp_session_is_tls (session))
        {
          GTlsCertificate *peer = vsmtp_session_get_peer_certificate (session);

          macros_add (m, "{tls_version}", g_strdup (tls_version_name (vsmtp_session_get_tls_protocol_version (session))));
          macros_add (m, "{cipher}", g_strdup (vsmtp_session_get_tls_cipher_suite (session)));
          if (peer != NULL)
            {
              macros_add (m, "{cert_subject}", g_tls_certificate_get_subject_name (peer));
              macros_add (m, "{cert_issuer}", g_tls_certificate_get_issuer_name (peer));
            }
        }
      break;

    case MILTER_STAGE_MAIL:
      macros_add (m, "i", queue_id (session, st));
      if (vsmtp_session_get_authenticated_user (session) != NULL)
        {
          macros_add (m, "{auth_type}", g_strdup (vsmtp_session_get_auth_mechanism (session)));
          macros_add (m, "{auth_authen}", g_strdup (vsmtp_session_get_authenticated_user (session)));
        }
      macros_add (m, "{mail_mailer}", g_strdup ("smtp"));
      if (address != NULL)
        {
          macros_add (m, "{mail_addr}", g_strdup (vsmtp_address_to_string (address)));
          macros_add (m, "{mail_host}", g_strdup (vsmtp_address_get_domain (address)));
        }
      break;

    case MILTER_STAGE_RCPT:
      macros_add (m, "{rcpt_mailer}", g_strdup ("smtp"));
      if (address != NULL)
        {
          macros_add (m, "{rcpt_addr}", g_strdup (vsmtp_address_to_string (address)));
          macros_add (m, "{rcpt_host}", g_strdup (vsmtp_address_get_domain (address)));
        }
      break;

    case MILTER_STAGE_DATA:
    case MILTER_STAGE_EOM:
      macros_add (m, "i", message ? g_strdup (vsmtp_message_get_id (message)) : queue_id (session, st));
      break;

    case MILTER_STAGE_EOH:
    default:
      break;
    }
}

static const char * const stage_names[MILTER_N_STAGES + 1] = {
  "connect", "HELO", "MAIL", "RCPT", "DATA", "end of message", "end of headers", "unknown command",
};

static const MilterCommand stage_commands[MILTER_N_STAGES] = {
  [MILTER_STAGE_CONNECT] = MILTER_CMD_CONNECT,
  [MILTER_STAGE_HELO] = MILTER_CMD_HELO,
  [MILTER_STAGE_MAIL] = MILTER_CMD_MAIL,
  [MILTER_STAGE_RCPT] = MILTER_CMD_RCPT,
  [MILTER_STAGE_DATA] = MILTER_CMD_DATA,
  [MILTER_STAGE_EOM] = MILTER_CMD_BODYEOB,
  [MILTER_STAGE_EOH] = MILTER_CMD_EOH,
};

/* Appends the stage's macros for @conn: those it asked for (by name, with
 * or without braces) when it gave a list, else the defaults */
static void
encode_macros (GByteArray   *out,
               MilterConn   *conn,
               MilterStage   stage,
               Macros       *all)
{
  const char *wanted = milter_conn_get_symlist (conn, stage);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autoptr(GPtrArray) values = g_ptr_array_new ();
  g_auto(GStrv) list = wanted ? g_strsplit (wanted, " ", -1) : NULL;

  for (guint i = 0; i < all->names->len; i++)
    {
      const char *name = all->names->pdata[i];
      gboolean send = list == NULL;

      for (guint j = 0; !send && list[j] != NULL; j++)
        {
          const char *w = list[j];
          gsize wl = strlen (w);

          if (g_str_equal (w, name) ||
              (name[0] == '{' && w[0] != '{' && strncmp (name + 1, w, wl) == 0 && name[wl + 1] == '}'))
            send = TRUE;
        }
      if (send)
        {
          g_ptr_array_add (names, all->names->pdata[i]);
          g_ptr_array_add (values, all->values->pdata[i]);
        }
    }
  if (names->len > 0)
    milter_encode_macros (out, stage_commands[stage],
                          (const char * const *) names->pdata,
                          (const char * const *) values->pdata, names->len);
}

/* ------------------------------------------------------------------------ */
/* Replies                                                                  */

/* A REPLYCODE's text ("550 5.7.1 text" or several such lines) as a reply */
static VsmtpReply *
reply_from_text (const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\r\n", -1);
  g_autoptr(GString) body = g_string_new (NULL);
  g_autofree char *enhanced = NULL;
  guint code = (text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0');

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *rest = strlen (lines[i]) > 4 ? lines[i] + 4 : "";
      const char *space = strchr (rest, ' ');

      /* an enhanced code (x.y.z) of the same class opens each line */
      if (g_ascii_isdigit (rest[0]) && rest[0] == text[0] && rest[1] == '.' && space != NULL)
        {
          if (enhanced == NULL)
            enhanced = g_strndup (rest, space - rest);
          rest = space + 1;
        }
      if (body->len > 0)
        g_string_append_c (body, '\n');
      g_string_append (body, rest);
    }
  if (enhanced == NULL)
    enhanced = g_strdup (code >= 500 ? "5.7.1" : "4.7.1");
  return vsmtp_reply_new (code, enhanced, body->len ? body->str : "Rejected by a filter");
}

static VsmtpReply *
reply_tempfail (void)
{
  return vsmtp_reply_new (451, "4.7.1", "Service unavailable - try again later");
}

static VsmtpReply *
reply_reject (MilterStage stage,
              gboolean    rcpt)
{
  if (stage == MILTER_STAGE_CONNECT)
    return vsmtp_reply_new (554, "5.7.1", "Service unavailable");
  if (stage == MILTER_STAGE_EOM)
    return vsmtp_reply_new (550, "5.7.1", "Message content rejected");
  if (rcpt)
    return vsmtp_reply_new (550, "5.7.1", "Recipient rejected");
  return vsmtp_reply_new (550, "5.7.1", "Command rejected");
}

/* ------------------------------------------------------------------------ */
/* Running a stage through the milters in turn                              */

typedef struct {
  VsmtpSession  *session;       /* strong while the run lasts */
  SessionState  *st;            /* the session's */
  VsmtpReply    *reply;         /* pending, completed at the end */
  MilterStage    stage;
  gboolean       rcpt;
  guint          i;             /* the milter being asked */
  VsmtpAddress  *address;       /* MAIL, RCPT */
  char         **args;          /* MAIL, RCPT: ESMTP arguments */
  char          *text;          /* HELO name, unknown command line */
  MilterCommand  command;       /* what the stage sends: MAIL, UNKNOWN... */

  /* the end of the message, for milter i */
  VsmtpMessage  *message;
  GInputStream  *stream;
  guint          header;        /* next header field to send */
  gboolean       in_body;       /* past the header section of the stream */
  gboolean       line_empty;
  guint          step;          /* EOM_* below */
  GByteArray    *pending_body;  /* a chunk read, not yet sent */
  char          *quarantine;    /* reason, and the milter's name */
  char          *quarantine_by;
} Run;

enum { EOM_HEADERS, EOM_EOH, EOM_BODY, EOM_EOB, EOM_DONE };

static void run_next      (Run *run);

static const char *
stage_name (Run *run)
{
  return stage_names[MIN (run->stage, MILTER_N_STAGES)];
}

static void eom_continue  (Run *run);
static void eom_finish    (Run *run);

static void
run_free (Run *run)
{
  g_clear_object (&run->session);
  g_clear_object (&run->reply);
  g_clear_pointer (&run->address, vsmtp_address_unref);
  g_strfreev (run->args);
  g_free (run->text);
  g_clear_object (&run->message);
  g_clear_object (&run->stream);
  g_clear_pointer (&run->pending_body, g_byte_array_unref);
  g_free (run->quarantine);
  g_free (run->quarantine_by);
  g_free (run);
}

static Run *
run_new (VsmtpSession *session,
         MilterStage   stage)
{
  Run *run = g_new0 (Run, 1);

  run->session = g_object_ref (session);
  run->st = session_state (session);
  run->stage = stage;
  run->command = stage < MILTER_N_STAGES ? stage_commands[stage] : MILTER_CMD_UNKNOWN;
  run->reply = vsmtp_reply_new_pending ();
  return run;
}

/* Ends the run with @reply (taken), or with "continue" for NULL */
static void
run_finish (Run        *run,
            VsmtpReply *reply)
{
  if (reply == NULL)
    vsmtp_reply_complete_continue (run->reply);
  else
    {
      vsmtp_reply_complete_with (run->reply, reply);
      g_object_unref (reply);
    }
  run_free (run);
}

/* A milter failed: logged; then its default action */
static void
run_milter_failed (Run        *run,
                   GError     *error)
{
  SessionMilter *m = &run->st->milters[run->i];
  VsmtpdMilterPlugin *plugin = run->st->plugin;

  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_warning ("%s: %s; %s", vsmtp_session_get_id (run->session), error->message,
               plugin->default_accept ? "going on without it (default-action=accept)"
                                      : "451 for the rest of the session (default-action=tempfail)");
  m->state = MILTER_FAILED;
  if (m->conn != NULL)
    milter_conn_close (m->conn);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      run_finish (run, reply_tempfail ());
      return;
    }
  if (plugin->default_accept)
    {
      run->i++;
      run_next (run);
    }
  else
    run_finish (run, reply_tempfail ());
}

/* What the filter decided about the stage: TRUE when the run goes on with
 * the next milter */
static gboolean
run_take_verdict (Run          *run,
                  MilterResult *result)
{
  SessionState *st = run->st;
  SessionMilter *m = &st->milters[run->i];
  const char *name = milter_conn_get_name (m->conn);

  switch ((int) result->verdict)
    {
    case 0:                              /* no reply was due */
    case MILTER_REPLY_CONTINUE:
      return TRUE;
    case MILTER_REPLY_ACCEPT:
      m->state = run->stage <= MILTER_STAGE_HELO ? MILTER_ACCEPTED_SESSION : MILTER_ACCEPTED_MESSAGE;
      return TRUE;
    case MILTER_REPLY_REJECT:
      g_message ("%s: milter %s rejects at %s", vsmtp_session_get_id (run->session), name,
                 stage_name (run));
      run_finish (run, reply_reject (run->stage, run->rcpt));
      return FALSE;
    case MILTER_REPLY_TEMPFAIL:
      g_message ("%s: milter %s tempfails", vsmtp_session_get_id (run->session), name);
      run_finish (run, reply_tempfail ());
      return FALSE;
    case MILTER_REPLY_REPLYCODE:
      g_message ("%s: milter %s replies %s", vsmtp_session_get_id (run->session), name, result->reply);
      run_finish (run, reply_from_text (result->reply));
      return FALSE;
    case MILTER_REPLY_DISCARD:
      /* the message is accepted and thrown away: at the end of the message */
      if (st->discard_by == NULL)
        st->discard_by = g_strdup (name);
      return TRUE;
    default:
      {
        g_autoptr(GError) error =
          g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "milter %s: %s is no answer here",
                       name, milter_reply_code_name (result->verdict));
        run_milter_failed (run, g_steal_pointer (&error));
        return FALSE;
      }
    }
}

static void
on_stage_exchanged (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Run *run = user_data;
  SessionMilter *m = &run->st->milters[run->i];
  g_autoptr(GError) error = NULL;
  g_autoptr(MilterResult) r = milter_conn_exchange_finish (m->conn, result, &error);

  if (r == NULL)
    {
      run_milter_failed (run, g_steal_pointer (&error));
      return;
    }
  if (run_take_verdict (run, r))
    {
      run->i++;
      run_next (run);
    }
}

/* Which step flags skip a stage, and which make it answer nothing */
static void
stage_steps (MilterStage    stage,
             MilterCommand  command,
             guint32       *skip,
             guint32       *no_reply)
{
  *skip = *no_reply = 0;
  switch (command)
    {
    case MILTER_CMD_CONNECT: *skip = MILTER_STEP_NOCONNECT; *no_reply = MILTER_STEP_NR_CONN; break;
    case MILTER_CMD_HELO:    *skip = MILTER_STEP_NOHELO;    *no_reply = MILTER_STEP_NR_HELO; break;
    case MILTER_CMD_MAIL:    *skip = MILTER_STEP_NOMAIL;    *no_reply = MILTER_STEP_NR_MAIL; break;
    case MILTER_CMD_RCPT:    *skip = MILTER_STEP_NORCPT;    *no_reply = MILTER_STEP_NR_RCPT; break;
    case MILTER_CMD_DATA:    *skip = MILTER_STEP_NODATA;    *no_reply = MILTER_STEP_NR_DATA; break;
    case MILTER_CMD_UNKNOWN: *skip = MILTER_STEP_NOUNKNOWN; *no_reply = MILTER_STEP_NR_UNKN; break;
    default: break;
    }
}

static void
run_send_stage (Run *run)
{
  SessionMilter *m = &run->st->milters[run->i];
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GBytes) packets = NULL;
  guint32 steps = milter_conn_get_steps (m->conn);
  guint32 skip, no_reply;
  Macros macros;

  if (run->stage == MILTER_STAGE_EOM)
    {
      eom_continue (run);
      return;
    }

  stage_steps (run->stage, run->command, &skip, &no_reply);
  if (run->command == MILTER_CMD_MAIL && m->in_message)
    {
      /* a transaction that did not reach its end: the filter forgets it */
      milter_encode_empty (out, MILTER_CMD_ABORT);
      m->in_message = FALSE;
    }
  if (steps & skip)
    {
      if (out->len == 0)
        {
          run->i++;
          run_next (run);
          return;
        }
    }
  else
    {
      macros_init (&macros);
      collect_macros (run->session, run->st, run->stage, run->address, NULL, &macros);
      encode_macros (out, m->conn, run->stage, &macros);
      macros_clear (&macros);

      switch (run->command)
        {
        case MILTER_CMD_CONNECT:
          milter_encode_connect (out, "unknown", vsmtp_session_get_remote_address (run->session));
          break;
        case MILTER_CMD_HELO:
        case MILTER_CMD_UNKNOWN:
          milter_encode_string (out, run->command, run->text);
          break;
        case MILTER_CMD_MAIL:
        case MILTER_CMD_RCPT:
          milter_encode_args (out, run->command,
                              vsmtp_address_is_null (run->address) ? "" : vsmtp_address_to_string (run->address),
                              (const char * const *) run->args);
          if (run->command == MILTER_CMD_MAIL)
            m->in_message = TRUE;
          break;
        default:
          milter_encode_empty (out, run->command);
          break;
        }
    }

  packets = g_byte_array_free_to_bytes (g_steal_pointer (&out));
  milter_conn_exchange_async (m->conn, packets,
                              (steps & (skip | no_reply)) ? MILTER_EXPECT_NOTHING : MILTER_EXPECT_VERDICT,
                              vsmtp_reply_get_cancellable (run->reply),
                              on_stage_exchanged, run);
}

static void
on_opened (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Run *run = user_data;
  SessionMilter *m = &run->st->milters[run->i];
  g_autoptr(GError) error = NULL;

  if (!milter_conn_open_finish (m->conn, result, &error))
    {
      run_milter_failed (run, g_steal_pointer (&error));
      return;
    }
  g_debug ("%s: milter %s: version 6, actions 0x%x, steps 0x%x",
           vsmtp_session_get_id (run->session), milter_conn_get_name (m->conn),
           milter_conn_get_actions (m->conn), milter_conn_get_steps (m->conn));
  run_send_stage (run);
}

/* Asks milter run->i, or the next one still in the conversation */
static void
run_next (Run *run)
{
  SessionState *st = run->st;

  for (; run->i < st->n; run->i++)
    {
      SessionMilter *m = &st->milters[run->i];

      if (m->state == MILTER_FAILED)
        {
          if (st->plugin->default_accept)
            continue;
          run_finish (run, reply_tempfail ());
          return;
        }
      if (m->state != MILTER_ACTIVE)
        continue;

      if (run->stage == MILTER_STAGE_CONNECT)
        {
          VsmtpdMilterPlugin *plugin = st->plugin;
          const MilterSpec *spec = plugin->specs->pdata[run->i];

          if (plugin->max_connections > 0 &&
              plugin->open_connections[run->i] >= plugin->max_connections)
            {
              g_autoptr(GError) error =
                g_error_new (G_IO_ERROR, G_IO_ERROR_BUSY,
                             "milter %s: %u connections open already (max-connections)",
                             spec->name, plugin->max_connections);
              run_milter_failed (run, g_steal_pointer (&error));
              return;
            }
          plugin->open_connections[run->i]++;
          m->counted = TRUE;
          m->conn = milter_conn_new (spec, vsmtp_session_get_id (run->session), NULL);
          milter_conn_open_async (m->conn, vsmtp_reply_get_cancellable (run->reply), on_opened, run);
          return;
        }

      run_send_stage (run);
      return;
    }

  /* every milter said continue */
  if (run->stage == MILTER_STAGE_EOM)
    eom_finish (run);
  else
    run_finish (run, NULL);
}

/* ------------------------------------------------------------------------ */
/* The end of the message: header fields, body, end, then the changes      */

static void eom_next_milter (Run *run);

/* The ESMTP arguments "A=1 B" as parameters */
static GHashTable *
parse_esmtp_args (const char *args)
{
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_auto(GStrv) words = args ? g_strsplit (args, " ", -1) : NULL;

  for (guint i = 0; words != NULL && words[i] != NULL; i++)
    {
      char *eq = strchr (words[i], '=');

      if (words[i][0] == '\0')
        continue;
      if (eq != NULL)
        g_hash_table_replace (table, g_ascii_strup (words[i], eq - words[i]), g_strdup (eq + 1));
      else
        g_hash_table_replace (table, g_ascii_strup (words[i], -1), NULL);
    }
  return table;
}

static VsmtpAddress *
parse_milter_address (const char        *text,
                      VsmtpAddressFlags  flags,
                      GError           **error)
{
  return vsmtp_address_parse (text, -1, flags | VSMTP_ADDRESS_FLAGS_ALLOW_POSTMASTER, error);
}

/* Folded header values: milters see and write line breaks as LF, as
 * Sendmail and Postfix hand them over; the message keeps CRLF */
static char *
value_to_milter (const char *value)
{
  GString *out = g_string_sized_new (strlen (value));

  for (const char *p = value; *p; p++)
    if (!(p[0] == '\r' && p[1] == '\n'))
      g_string_append_c (out, *p);
  return g_string_free (out, FALSE);
}

static char *
value_from_milter (const char *value)
{
  GString *out = g_string_sized_new (strlen (value) + 8);

  for (const char *p = value; *p; p++)
    {
      if (p[0] == '\n' && (p == value || p[-1] != '\r'))
        g_string_append_c (out, '\r');
      g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

static gboolean
apply_changes (Run           *run,
               MilterResult  *r,
               GError       **error)
{
  SessionMilter *m = &run->st->milters[run->i];
  VsmtpMessage *message = run->message;
  VsmtpEnvelope *envelope = vsmtp_message_get_envelope (message);
  gboolean leading_space = (milter_conn_get_steps (m->conn) & MILTER_STEP_HDR_LEADSPC) != 0;

  for (guint k = 0; k < r->actions->len; k++)
    {
      MilterAction *a = r->actions->pdata[k];
      g_autofree char *crlf = a->value ? value_from_milter (a->value) : NULL;
      const char *value = crlf;
      gboolean ok = TRUE;

      if (value != NULL && leading_space && value[0] == ' ')
        value++;

      switch (a->code)
        {
        case MILTER_REPLY_ADDHEADER:
          ok = vsmtp_message_add_header (message, a->name, value, error);
          break;
        case MILTER_REPLY_INSHEADER:
          ok = vsmtp_message_insert_header (message, a->index, a->name, value, error);
          break;
        case MILTER_REPLY_CHGHEADER:
          ok = vsmtp_message_change_header (message, a->name, a->index,
                                            value[0] != '\0' ? value : NULL, error);
          break;
        case MILTER_REPLY_ADDRCPT:
        case MILTER_REPLY_ADDRCPT_PAR:
          {
            g_autoptr(VsmtpAddress) address = parse_milter_address (a->name, VSMTP_ADDRESS_FLAGS_SMTPUTF8, error);
            g_autoptr(GHashTable) params = parse_esmtp_args (a->value);

            ok = address != NULL;
            if (ok)
              vsmtp_envelope_add_recipient (envelope, address, params);
          }
          break;
        case MILTER_REPLY_DELRCPT:
          {
            g_autoptr(VsmtpAddress) address = parse_milter_address (a->name, VSMTP_ADDRESS_FLAGS_SMTPUTF8, error);

            ok = address != NULL;
            for (guint j = 0; ok && j < vsmtp_envelope_get_n_recipients (envelope); j++)
              if (vsmtp_address_equal (vsmtp_envelope_get_recipient (envelope, j), address))
                {
                  vsmtp_envelope_remove_recipient (envelope, j);
                  break;
                }
          }
          break;
        case MILTER_REPLY_CHGFROM:
          {
            g_autoptr(VsmtpAddress) address =
              parse_milter_address (a->name, VSMTP_ADDRESS_FLAGS_ALLOW_NULL | VSMTP_ADDRESS_FLAGS_SMTPUTF8, error);
            g_autoptr(GHashTable) params = parse_esmtp_args (a->value);

            ok = address != NULL;
            if (ok)
              vsmtp_envelope_set_sender (envelope, address, params);
          }
          break;
        default:
          break;
        }
      if (!ok)
        {
          g_prefix_error (error, "milter %s: %s: ", milter_conn_get_name (m->conn),
                          milter_reply_code_name (a->code));
          return FALSE;
        }
    }

  if (r->new_body != NULL)
    {
      g_autoptr(GFileInputStream) body = g_file_read (r->new_body, NULL, error);

      if (body == NULL ||
          !vsmtp_message_replace_body_from_stream (message, G_INPUT_STREAM (body),
                                                   vsmtp_reply_get_cancellable (run->reply), error))
        {
          g_prefix_error (error, "milter %s: REPLBODY: ", milter_conn_get_name (m->conn));
          return FALSE;
        }
    }

  if (r->quarantine != NULL && run->quarantine == NULL)
    {
      run->quarantine = g_strdup (r->quarantine);
      run->quarantine_by = g_strdup (milter_conn_get_name (m->conn));
    }
  return TRUE;
}

static void
eom_failed (Run    *run,
            GError *error)
{
  run->st->milters[run->i].in_message = FALSE;
  run_milter_failed (run, error);
}

static void
on_eom_exchanged (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Run *run = user_data;
  SessionMilter *m = &run->st->milters[run->i];
  g_autoptr(GError) error = NULL;
  g_autoptr(MilterResult) r = milter_conn_exchange_finish (m->conn, result, &error);

  if (r == NULL)
    {
      eom_failed (run, g_steal_pointer (&error));
      return;
    }

  if (run->step == EOM_EOB)
    {
      m->in_message = FALSE;
      if (!apply_changes (run, r, &error))
        {
          eom_failed (run, g_steal_pointer (&error));
          return;
        }
    }

  switch (r->verdict)
    {
    case MILTER_REPLY_SKIP:
      /* no more body for this filter */
      run->step = EOM_EOB;
      eom_continue (run);
      return;
    case MILTER_REPLY_ACCEPT:
      /* nothing more about this message from this filter (an ABORT at the
       * next MAIL if it did not see the end) */
      if (run->step != EOM_EOB)
        m->state = MILTER_ACCEPTED_MESSAGE;
      eom_next_milter (run);
      return;
    case MILTER_REPLY_DISCARD:
      g_free (run->st->discard_by);
      run->st->discard_by = g_strdup (milter_conn_get_name (m->conn));
      eom_next_milter (run);
      return;
    default:
      break;
    }

  if (!run_take_verdict (run, r))
    return;   /* refused: the run is over */

  switch (run->step)
    {
    case EOM_EOB:
      eom_next_milter (run);
      return;
    case EOM_EOH:
      run->step = EOM_BODY;
      break;
    default:
      break;   /* the next header field, the next body chunk */
    }
  eom_continue (run);
}

static void
eom_exchange (Run          *run,
              GByteArray   *out,
              MilterExpect  expect)
{
  SessionMilter *m = &run->st->milters[run->i];
  g_autoptr(GBytes) packets = g_byte_array_free_to_bytes (g_byte_array_ref (out));

  milter_conn_exchange_async (m->conn, packets, expect,
                              vsmtp_reply_get_cancellable (run->reply),
                              on_eom_exchanged, run);
}

/* Returns how many bytes of @data, from @offset, belong to the body: the
 * header section ends with the first empty line. */
static gsize
skip_header_section (Run          *run,
                     const guint8 *data,
                     gsize         len)
{
  for (gsize k = 0; k < len && !run->in_body; k++)
    {
      if (data[k] == '\n')
        {
          if (run->line_empty)
            {
              run->in_body = TRUE;
              return k + 1;
            }
          run->line_empty = TRUE;
        }
      else if (data[k] != '\r')
        run->line_empty = FALSE;
    }
  return run->in_body ? 0 : len;
}

static void
on_body_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Run *run = user_data;
  SessionMilter *m = &run->st->milters[run->i];
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  g_autoptr(GByteArray) out = NULL;
  const guint8 *data;
  gsize len, start = 0;

  if (bytes == NULL)
    {
      /* our own spool could not be read: not the milter's fault */
      g_warning ("%s: cannot read message %s for milter %s: %s",
                 vsmtp_session_get_id (run->session), vsmtp_message_get_id (run->message),
                 milter_conn_get_name (m->conn), error->message);
      run_finish (run, vsmtp_reply_new (451, "4.3.0", "Local error in processing"));
      return;
    }
  data = g_bytes_get_data (bytes, &len);
  if (len == 0)
    {
      run->step = EOM_EOB;
      eom_continue (run);
      return;
    }
  if (!run->in_body)
    {
      start = skip_header_section (run, data, len);
      if (!run->in_body || start == len)
        {
          eom_continue (run);
          return;
        }
    }
  out = g_byte_array_new ();
  milter_encode_body (out, data + start, len - start);
  eom_exchange (run, out, (milter_conn_get_steps (m->conn) & MILTER_STEP_NR_BODY)
                          ? MILTER_EXPECT_NOTHING : MILTER_EXPECT_CONTENT);
}

/* The next step of the end of the message for milter run->i */
static void
eom_continue (Run *run)
{
  SessionMilter *m = &run->st->milters[run->i];
  guint32 steps = milter_conn_get_steps (m->conn);
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  Macros macros;

  if (run->stream == NULL)
    {
      /* each milter reads the message as those before it changed it */
      run->stream = vsmtp_message_open_stream (run->message, &error);
      if (run->stream == NULL)
        {
          g_warning ("%s: cannot read message %s: %s", vsmtp_session_get_id (run->session),
                     vsmtp_message_get_id (run->message), error->message);
          run_finish (run, vsmtp_reply_new (451, "4.3.0", "Local error in processing"));
          return;
        }
      run->header = 0;
      run->in_body = FALSE;
      run->line_empty = TRUE;
      run->step = EOM_HEADERS;
      /* DATA, for a milter that wants it, was sent with the data signal */
    }

  switch (run->step)
    {
    case EOM_HEADERS:
      if (steps & MILTER_STEP_NOHDRS)
        {
          run->step = EOM_EOH;
          eom_continue (run);
          return;
        }
      if (run->header >= vsmtp_message_get_n_headers (run->message))
        {
          run->step = EOM_EOH;
          eom_continue (run);
          return;
        }
      /* without replies, every field in one write; else one at a time */
      do
        {
          g_autofree char *name = vsmtp_message_dup_header_name (run->message, run->header);
          g_autofree char *raw = vsmtp_message_dup_header_value (run->message, run->header);
          g_autofree char *value = value_to_milter (raw ? raw : "");
          g_autofree char *spaced = (steps & MILTER_STEP_HDR_LEADSPC) ? g_strconcat (" ", value, NULL) : NULL;

          milter_encode_header (out, name, spaced ? spaced : value);
          run->header++;
        }
      while ((steps & MILTER_STEP_NR_HDR) && run->header < vsmtp_message_get_n_headers (run->message));
      eom_exchange (run, out, (steps & MILTER_STEP_NR_HDR) ? MILTER_EXPECT_NOTHING : MILTER_EXPECT_CONTENT);
      return;

    case EOM_EOH:
      if (steps & MILTER_STEP_NOEOH)
        {
          run->step = EOM_BODY;
          eom_continue (run);
          return;
        }
      macros_init (&macros);
      collect_macros (run->session, run->st, MILTER_STAGE_EOH, NULL, run->message, &macros);
      encode_macros (out, m->conn, MILTER_STAGE_EOH, &macros);
      macros_clear (&macros);
      milter_encode_empty (out, MILTER_CMD_EOH);
      eom_exchange (run, out, (steps & MILTER_STEP_NR_EOH) ? MILTER_EXPECT_NOTHING : MILTER_EXPECT_CONTENT);
      return;

    case EOM_BODY:
      if (steps & MILTER_STEP_NOBODY)
        {
          run->step = EOM_EOB;
          eom_continue (run);
          return;
        }
      g_input_stream_read_bytes_async (run->stream, MILTER_CHUNK_SIZE, G_PRIORITY_DEFAULT,
                                       vsmtp_reply_get_cancellable (run->reply),
                                       on_body_read, run);
      return;

    case EOM_EOB:
    default:
      macros_init (&macros);
      collect_macros (run->session, run->st, MILTER_STAGE_EOM, NULL, run->message, &macros);
      encode_macros (out, m->conn, MILTER_STAGE_EOM, &macros);
      macros_clear (&macros);
      milter_encode_empty (out, MILTER_CMD_BODYEOB);
      eom_exchange (run, out, MILTER_EXPECT_EOM);
      return;
    }
}

static void
eom_next_milter (Run *run)
{
  g_clear_object (&run->stream);
  run->i++;
  run_next (run);
}

/* The quarantine: a maildir the message is written into, synced, instead of
 * being delivered */
typedef struct {
  char         *directory;
  VsmtpMessage *message;
  char         *path;       /* out */
} Quarantine;

static void
quarantine_free (gpointer data)
{
  Quarantine *q = data;

  g_free (q->directory);
  g_clear_object (&q->message);
  g_free (q->path);
  g_free (q);
}

static gboolean
sync_directory (const char  *path,
                GError     **error)
{
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int saved;

  if (fd >= 0 && fsync (fd) == 0)
    {
      close (fd);
      return TRUE;
    }
  saved = errno;
  if (fd >= 0)
    close (fd);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
               "cannot sync %s: %s", path, g_strerror (saved));
  return FALSE;
}

static void
quarantine_thread (GTask        *task,
                   gpointer      source_object,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  Quarantine *q = task_data;
  g_autofree char *tmp = g_build_filename (q->directory, "tmp", NULL);
  g_autofree char *new = g_build_filename (q->directory, "new", NULL);
  g_autofree char *cur = g_build_filename (q->directory, "cur", NULL);
  g_autofree char *name = NULL;
  g_autofree char *tmp_path = NULL;
  GError *error = NULL;
  int fd, saved;

  if (g_mkdir_with_parents (tmp, 0700) < 0 || g_mkdir_with_parents (new, 0700) < 0 ||
      g_mkdir_with_parents (cur, 0700) < 0)
    {
      saved = errno;
      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved),
                               "cannot create the quarantine %s: %s", q->directory, g_strerror (saved));
      return;
    }
  name = g_strdup_printf ("%" G_GINT64_FORMAT ".%s.vsmtpd", g_get_real_time () / G_USEC_PER_SEC,
                          vsmtp_message_get_id (q->message));
  tmp_path = g_build_filename (tmp, name, NULL);
  q->path = g_build_filename (new, name, NULL);
  fd = open (tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      saved = errno;
      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved),
                               "cannot create %s: %s", tmp_path, g_strerror (saved));
      return;
    }
  if (!vsmtp_message_write_to_fd (q->message, fd, &error) || fsync (fd) < 0)
    {
      saved = errno;
      close (fd);
      g_unlink (tmp_path);
      if (error == NULL)
        error = g_error_new (G_IO_ERROR, g_io_error_from_errno (saved),
                             "cannot sync %s: %s", tmp_path, g_strerror (saved));
      g_task_return_error (task, error);
      return;
    }
  close (fd);
  if (g_rename (tmp_path, q->path) < 0)
    {
      saved = errno;
      g_unlink (tmp_path);
      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved),
                               "cannot move %s into new/: %s", tmp_path, g_strerror (saved));
      return;
    }
  if (!sync_directory (new, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
on_quarantined (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Run *run = user_data;
  Quarantine *q = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_warning ("%s: message %s: quarantine requested by milter %s (%s) failed: %s",
                 vsmtp_session_get_id (run->session), vsmtp_message_get_id (run->message),
                 run->quarantine_by, run->quarantine, error->message);
      run_finish (run, vsmtp_reply_new (451, "4.3.0", "Local error in processing"));
      return;
    }
  run->st->plugin->quarantined++;
  g_message ("%s: message %s quarantined by milter %s (%s): %s",
             vsmtp_session_get_id (run->session), vsmtp_message_get_id (run->message),
             run->quarantine_by, run->quarantine, q->path);
  run_finish (run, vsmtp_reply_new (250, "2.0.0", "Ok"));
}

/* Every milter has seen the message: discard, quarantine, or on to delivery */
static void
eom_finish (Run *run)
{
  SessionState *st = run->st;
  VsmtpdMilterPlugin *plugin = st->plugin;

  if (st->discard_by != NULL)
    {
      plugin->discarded++;
      g_message ("%s: message %s discarded by milter %s: accepted and not delivered",
                 vsmtp_session_get_id (run->session), vsmtp_message_get_id (run->message),
                 st->discard_by);
      g_clear_pointer (&st->discard_by, g_free);
      run_finish (run, vsmtp_reply_new (250, "2.0.0", "Ok"));
      return;
    }
  if (run->quarantine != NULL)
    {
      g_autoptr(GTask) task = g_task_new (NULL, NULL, on_quarantined, run);
      Quarantine *q = g_new0 (Quarantine, 1);
      g_autofree char *note = g_strdup_printf ("milter %s: %s", run->quarantine_by, run->quarantine);
      g_autoptr(GError) error = NULL;

      /* the reason travels with the message */
      if (!vsmtp_message_add_header (run->message, "X-Vsmtpd-Quarantine", note, &error))
        g_debug ("quarantine note not added: %s", error->message);
      q->directory = g_strdup (plugin->quarantine);
      q->message = g_object_ref (run->message);
      g_task_set_task_data (task, q, quarantine_free);
      g_task_run_in_thread (task, quarantine_thread);
      return;
    }
  run_finish (run, NULL);
}

/* ------------------------------------------------------------------------ */
/* Session signals                                                          */

static gboolean
session_has_milters (VsmtpSession *session)
{
  SessionState *st = session_state (session);

  return st != NULL && st->n > 0;
}

static VsmtpReply *
start_run (Run *run)
{
  VsmtpReply *reply = g_object_ref (run->reply);

  run_next (run);
  return reply;
}

static VsmtpReply *
on_connected (VsmtpSession *session,
              gpointer      user_data)
{
  if (!session_has_milters (session))
    return vsmtp_reply_new_continue ();
  return start_run (run_new (session, MILTER_STAGE_CONNECT));
}

static VsmtpReply *
on_helo (VsmtpSession *session,
         const char   *helo,
         gpointer      user_data)
{
  Run *run;

  if (!session_has_milters (session))
    return vsmtp_reply_new_continue ();
  run = run_new (session, MILTER_STAGE_HELO);
  run->text = g_strdup (helo);
  return start_run (run);
}

static char **
parameters_to_args (VsmtpParameters *parameters)
{
  g_auto(GStrv) keywords = parameters ? vsmtp_parameters_dup_keywords (parameters) : NULL;
  GPtrArray *args = g_ptr_array_new ();

  for (guint i = 0; keywords != NULL && keywords[i] != NULL; i++)
    {
      const char *value = vsmtp_parameters_get (parameters, keywords[i]);

      g_ptr_array_add (args, value ? g_strconcat (keywords[i], "=", value, NULL)
                                   : g_strdup (keywords[i]));
    }
  g_ptr_array_add (args, NULL);
  return (char **) g_ptr_array_free (args, FALSE);
}

static VsmtpReply *
on_mail_from (VsmtpSession    *session,
              VsmtpAddress    *sender,
              VsmtpParameters *parameters,
              gpointer         user_data)
{
  SessionState *st = session_state (session);
  Run *run;

  if (!session_has_milters (session))
    return vsmtp_reply_new_continue ();

  /* a new transaction: filters that accepted the last message listen again */
  st->transaction++;
  g_clear_pointer (&st->discard_by, g_free);
  for (guint i = 0; i < st->n; i++)
    if (st->milters[i].state == MILTER_ACCEPTED_MESSAGE)
      st->milters[i].state = MILTER_ACTIVE;

  run = run_new (session, MILTER_STAGE_MAIL);
  run->address = vsmtp_address_ref (sender);
  run->args = parameters_to_args (parameters);
  return start_run (run);
}

static VsmtpReply *
on_rcpt_to (VsmtpSession    *session,
            VsmtpAddress    *recipient,
            VsmtpParameters *parameters,
            gpointer         user_data)
{
  Run *run;

  if (!session_has_milters (session))
    return vsmtp_reply_new_continue ();
  run = run_new (session, MILTER_STAGE_RCPT);
  run->rcpt = TRUE;
  run->address = vsmtp_address_ref (recipient);
  run->args = parameters_to_args (parameters);
  return start_run (run);
}

static VsmtpReply *
on_data (VsmtpSession *session,
         gpointer      user_data)
{
  if (!session_has_milters (session))
    return vsmtp_reply_new_continue ();
  return start_run (run_new (session, MILTER_STAGE_DATA));
}

static VsmtpReply *
on_message_received (VsmtpSession *session,
                     VsmtpMessage *message,
                     gpointer      user_data)
{
  Run *run;

  if (!session_has_milters (session))
    return vsmtp_reply_new_continue ();
  run = run_new (session, MILTER_STAGE_EOM);
  run->message = g_object_ref (message);
  if (run->st->discard_by != NULL)
    {
      /* discarded at MAIL or RCPT: the filters need not see it */
      VsmtpReply *reply = g_object_ref (run->reply);

      for (guint i = 0; i < run->st->n; i++)
        if (run->st->milters[i].state == MILTER_ACTIVE)
          run->st->milters[i].state = MILTER_ACCEPTED_MESSAGE;
      eom_finish (run);
      return reply;
    }
  return start_run (run);
}

static VsmtpReply *
on_unknown_command (VsmtpSession *session,
                    const char   *verb,
                    const char   *arguments,
                    gpointer      user_data)
{
  Run *run;

  if (!session_has_milters (session))
    return vsmtp_reply_new_continue ();
  run = run_new (session, MILTER_N_STAGES);
  run->text = arguments && *arguments ? g_strconcat (verb, " ", arguments, NULL) : g_strdup (verb);
  return start_run (run);
}

static void
on_abort_sent (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  MilterConn *conn = user_data;
  g_autoptr(MilterResult) r = milter_conn_exchange_finish (conn, result, NULL);

  milter_conn_unref (conn);
}

static void
on_rset (VsmtpSession *session,
         gpointer      user_data)
{
  SessionState *st = session_state (session);

  for (guint i = 0; st != NULL && i < st->n; i++)
    {
      SessionMilter *m = &st->milters[i];
      g_autoptr(GByteArray) out = NULL;
      g_autoptr(GBytes) packets = NULL;

      if (m->conn == NULL || !m->in_message || !milter_conn_is_open (m->conn))
        continue;
      out = g_byte_array_new ();
      milter_encode_empty (out, MILTER_CMD_ABORT);
      packets = g_byte_array_free_to_bytes (g_steal_pointer (&out));
      m->in_message = FALSE;
      milter_conn_exchange_async (m->conn, packets, MILTER_EXPECT_NOTHING, NULL,
                                  on_abort_sent, milter_conn_ref (m->conn));
    }
}

static void
on_closed (VsmtpSession *session,
           gpointer      user_data)
{
  SessionState *st = session_state (session);

  for (guint i = 0; st != NULL && i < st->n; i++)
    {
      SessionMilter *m = &st->milters[i];

      if (m->conn != NULL)
        {
          milter_conn_close (m->conn);
          g_clear_pointer (&m->conn, milter_conn_unref);
        }
      if (m->counted)
        {
          st->plugin->open_connections[i]--;
          m->counted = FALSE;
        }
      m->state = MILTER_FAILED;
    }
}

static void
on_new_session (VsmtpServer  *server,
                VsmtpSession *session,
                gpointer      user_data)
{
  VsmtpdMilterPlugin *self = user_data;
  SessionState *st;

  if (self->specs->len == 0)
    return;

  st = g_new0 (SessionState, 1);
  st->plugin = g_object_ref (self);
  st->n = self->specs->len;
  st->milters = g_new0 (SessionMilter, st->n);
  g_object_set_data_full (G_OBJECT (session), "vsmtpd-milter", st, session_state_free);

  g_signal_connect_object (session, "connected", G_CALLBACK (on_connected), self, 0);
  g_signal_connect_object (session, "helo", G_CALLBACK (on_helo), self, 0);
  g_signal_connect_object (session, "ehlo", G_CALLBACK (on_helo), self, 0);
  g_signal_connect_object (session, "mail-from", G_CALLBACK (on_mail_from), self, 0);
  g_signal_connect_object (session, "rcpt-to", G_CALLBACK (on_rcpt_to), self, 0);
  g_signal_connect_object (session, "data", G_CALLBACK (on_data), self, 0);
  g_signal_connect_object (session, "message-received", G_CALLBACK (on_message_received), self, 0);
  g_signal_connect_object (session, "unknown-command", G_CALLBACK (on_unknown_command), self, 0);
  g_signal_connect_object (session, "rset", G_CALLBACK (on_rset), self, 0);
  g_signal_connect_object (session, "closed", G_CALLBACK (on_closed), self, 0);
}

/* ------------------------------------------------------------------------ */
/* The plugin                                                               */

static char *
default_quarantine_path (void)
{
  const char *state_directory = g_getenv ("STATE_DIRECTORY");

  if (state_directory != NULL && state_directory[0] != '\0')
    {
      g_auto(GStrv) dirs = g_strsplit (state_directory, ":", 2);

      return g_build_filename (dirs[0], "Quarantine", NULL);
    }
  return g_build_filename (g_get_user_state_dir (), "vsmtpd", "Quarantine", NULL);
}

static void
vsmtpd_milter_plugin_declare_config (VsmtpPlugin      *plugin,
                                     VsmtpConfigGroup *group)
{
  static const char * const actions[] = { "tempfail", "accept", NULL };

  vsmtp_config_group_add_string_list (group, "milters", NULL,
                                      "The milters, in order: inet:HOST:PORT or unix:/PATH, "
                                      "optionally named NAME=ADDRESS");
  vsmtp_config_group_add_duration (group, "connect-timeout", 30 * 1000, 100, 3600 * 1000,
                                   "How long connecting and negotiating with a milter may take");
  vsmtp_config_group_add_duration (group, "command-timeout", 30 * 1000, 100, 3600 * 1000,
                                   "How long a milter may take to answer a command "
                                   "(connect, HELO, MAIL, RCPT, DATA)");
  vsmtp_config_group_add_duration (group, "content-timeout", 300 * 1000, 100, 3600 * 1000,
                                   "How long a milter may take to answer message content "
                                   "and the end of the message (a progress report restarts it)");
  vsmtp_config_group_add_choice (group, "default-action", "tempfail", actions,
                                 "What a milter that is down, slow or speaks nonsense means: "
                                 "tempfail (451 4.7.1) or accept (go on without it)");
  vsmtp_config_group_add_integer (group, "max-connections", 0, 0, 1000000, NULL,
                                  "Connections open at once to each milter (one per session); "
                                  "past it a session gets the default action; 0: unlimited");
  vsmtp_config_group_add_path (group, "quarantine", NULL,
                               "The maildir quarantined messages go into; "
                               "default: $STATE_DIRECTORY/Quarantine");
}

static gboolean
vsmtpd_milter_plugin_configure (VsmtpPlugin       *plugin,
                                VsmtpConfigGroup  *group,
                                GError           **error)
{
  VsmtpdMilterPlugin *self = VSMTPD_MILTER_PLUGIN (plugin);
  g_auto(GStrv) milters = vsmtp_config_group_dup_string_list (group, "milters");
  g_autoptr(GPtrArray) specs = g_ptr_array_new_with_free_func ((GDestroyNotify) milter_spec_free);
  g_autofree char *action = vsmtp_config_group_dup_string (group, "default-action");
  g_autofree char *quarantine = vsmtp_config_group_dup_string (group, "quarantine");

  for (guint i = 0; milters != NULL && milters[i] != NULL; i++)
    {
      const char *entry = milters[i];
      const char *eq = strchr (entry, '=');
      g_autofree char *name = NULL;
      MilterSpec *spec;

      /* NAME=ADDRESS, or ADDRESS named after itself */
      if (eq != NULL && strchr (entry, ':') > eq)
        {
          name = g_strndup (entry, eq - entry);
          entry = eq + 1;
        }
      spec = milter_spec_new (name, entry, error);
      if (spec == NULL)
        {
          g_prefix_error (error, "[milter] milters: ");
          return FALSE;
        }
      spec->connect_timeout = vsmtp_config_group_get_duration (group, "connect-timeout");
      spec->command_timeout = vsmtp_config_group_get_duration (group, "command-timeout");
      spec->content_timeout = vsmtp_config_group_get_duration (group, "content-timeout");
      g_ptr_array_add (specs, spec);
    }

  g_ptr_array_unref (self->specs);
  self->specs = g_steal_pointer (&specs);
  g_free (self->open_connections);
  self->open_connections = g_new0 (guint, MAX (self->specs->len, 1));
  self->default_accept = g_strcmp0 (action, "accept") == 0;
  self->max_connections = vsmtp_config_group_get_integer (group, "max-connections");
  g_free (self->quarantine);
  self->quarantine = quarantine ? g_canonicalize_filename (quarantine, NULL) : default_quarantine_path ();
  return TRUE;
}

static void
vsmtpd_milter_plugin_activate (VsmtpPlugin *plugin)
{
  VsmtpdMilterPlugin *self = VSMTPD_MILTER_PLUGIN (plugin);
  VsmtpServer *server = vsmtp_plugin_get_server (plugin);

  g_return_if_fail (VSMTP_IS_SERVER (server));

  if (self->specs->len == 0)
    g_warning ("milter: no milters configured ([milter] milters): sessions are not filtered");
  for (guint i = 0; i < self->specs->len; i++)
    {
      const MilterSpec *spec = self->specs->pdata[i];

      g_info ("milter: %u. %s (%s)", i + 1, spec->name, spec->address);
    }
  self->new_session_id = g_signal_connect_object (server, "new-session",
                                                  G_CALLBACK (on_new_session), self, 0);
}

static void
vsmtpd_milter_plugin_deactivate (VsmtpPlugin *plugin)
{
  VsmtpdMilterPlugin *self = VSMTPD_MILTER_PLUGIN (plugin);
  VsmtpServer *server = vsmtp_plugin_get_server (plugin);

  if (server != NULL)
    g_clear_signal_handler (&self->new_session_id, server);
}

static void
vsmtpd_milter_plugin_finalize (GObject *object)
{
  VsmtpdMilterPlugin *self = VSMTPD_MILTER_PLUGIN (object);

  g_ptr_array_unref (self->specs);
  g_free (self->open_connections);
  g_free (self->quarantine);

  G_OBJECT_CLASS (vsmtpd_milter_plugin_parent_class)->finalize (object);
}

static void
vsmtpd_milter_plugin_class_init (VsmtpdMilterPluginClass *klass)
{
  VsmtpPluginClass *plugin_class = VSMTP_PLUGIN_CLASS (klass);
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = vsmtpd_milter_plugin_finalize;
  plugin_class->declare_config = vsmtpd_milter_plugin_declare_config;
  plugin_class->configure = vsmtpd_milter_plugin_configure;
  plugin_class->activate = vsmtpd_milter_plugin_activate;
  plugin_class->deactivate = vsmtpd_milter_plugin_deactivate;
}

static void
vsmtpd_milter_plugin_class_finalize (VsmtpdMilterPluginClass *klass)
{
}

static void
vsmtpd_milter_plugin_init (VsmtpdMilterPlugin *self)
{
  self->specs = g_ptr_array_new_with_free_func ((GDestroyNotify) milter_spec_free);
  self->open_connections = g_new0 (guint, 1);
  self->quarantine = default_quarantine_path ();
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  vsmtpd_milter_plugin_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module,
                                              VSMTP_TYPE_ACTIVATABLE,
                                              VSMTPD_TYPE_MILTER_PLUGIN);
}
