/* relay-extensions.h: the ESMTP extensions the relay passes on, and when it
 * cannot
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <vsmtp.h>

G_BEGIN_DECLS

/* What an upstream offers in its EHLO/LHLO reply */
typedef enum {
  RELAY_CAP_STARTTLS   = 1 << 0,
  RELAY_CAP_SIZE       = 1 << 1,
  RELAY_CAP_8BITMIME   = 1 << 2,
  RELAY_CAP_SMTPUTF8   = 1 << 3,
  RELAY_CAP_PIPELINING = 1 << 4,
  RELAY_CAP_CHUNKING   = 1 << 5,
  RELAY_CAP_BINARYMIME = 1 << 6,
  RELAY_CAP_DSN        = 1 << 7,
  RELAY_CAP_REQUIRETLS = 1 << 8,
} RelayCaps;

RelayCaps relay_caps_parse (GPtrArray *lines);

typedef enum {
  RELAY_BODY_NONE,        /* no BODY= from the client */
  RELAY_BODY_7BIT,
  RELAY_BODY_8BITMIME,
  RELAY_BODY_BINARYMIME,
} RelayBody;

/* What one message asks of the upstream, from its envelope and header */
typedef struct
{
  RelayBody body;
  gboolean  smtputf8;         /* the client gave MAIL ... SMTPUTF8 */
  gboolean  utf8_address;     /* a non-ASCII sender or recipient */
  gboolean  utf8_header;      /* a non-ASCII header field (with SMTPUTF8 only) */
  gboolean  requiretls;       /* MAIL ... REQUIRETLS */
  gboolean  tls_required_no;  /* "TLS-Required: No", without REQUIRETLS */
  gboolean  dsn;              /* any of RET, ENVID, NOTIFY, ORCPT */
  gboolean  notify_success;   /* a recipient with NOTIFY=...SUCCESS... */
} RelayNeeds;

void     relay_needs_init          (RelayNeeds    *needs,
                                    VsmtpMessage  *message,
                                    VsmtpEnvelope *envelope);

gboolean relay_notify_success      (VsmtpEnvelope *envelope,
                                    guint          index);

/* A reason not to hand the message to this upstream */
typedef struct
{
  guint       code;
  const char *enhanced_code;
  const char *text;
} RelayRefusal;

gboolean relay_needs_check         (const RelayNeeds *needs,
                                    RelayCaps         caps,
                                    gboolean          esmtp,
                                    gboolean          tls,
                                    gboolean          verified,
                                    RelayRefusal     *refusal);

void     relay_append_mail_parameters (GString          *line,
                                       const RelayNeeds *needs,
                                       RelayCaps         caps,
                                       VsmtpEnvelope    *envelope,
                                       guint64           size);

void     relay_append_rcpt_parameters (GString          *line,
                                       RelayCaps         caps,
                                       VsmtpEnvelope    *envelope,
                                       guint             index);

G_END_DECLS
