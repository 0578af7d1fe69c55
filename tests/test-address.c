/* test-address.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "vsmtp.h"
#include "vsmtp-idna-private.h"

#define F_NONE       VSMTP_ADDRESS_FLAGS_NONE
#define F_NULL       VSMTP_ADDRESS_FLAGS_ALLOW_NULL
#define F_POSTMASTER VSMTP_ADDRESS_FLAGS_ALLOW_POSTMASTER
#define F_UTF8       VSMTP_ADDRESS_FLAGS_SMTPUTF8

typedef struct {
  const char *path;
  VsmtpAddressFlags flags;
  const char *local_part;
  const char *domain;
  const char *string;
} GoodCase;

static const GoodCase good_cases[] = {
  { "<user@example.com>", F_NONE, "user", "example.com", "user@example.com" },
  { "user@example.com", F_NONE, "user", "example.com", "user@example.com" },
  { "<first.last+tag@sub.example.com>", F_NONE, "first.last+tag", "sub.example.com",
    "first.last+tag@sub.example.com" },
  { "<!#$%&'*+-/=?^_`{|}~@example.com>", F_NONE, "!#$%&'*+-/=?^_`{|}~", "example.com",
    "!#$%&'*+-/=?^_`{|}~@example.com" },
  { "<\"john doe\"@example.com>", F_NONE, "john doe", "example.com", "\"john doe\"@example.com" },
  { "<\"say \\\"hi\\\"\"@example.com>", F_NONE, "say \"hi\"", "example.com",
    "\"say \\\"hi\\\"\"@example.com" },
  { "<\"back\\\\slash\"@example.com>", F_NONE, "back\\slash", "example.com",
    "\"back\\\\slash\"@example.com" },
  /* a quoted string that is a valid dot-string is not re-quoted */
  { "<\"plain\"@example.com>", F_NONE, "plain", "example.com", "plain@example.com" },
  { "<\"a..b\"@example.com>", F_NONE, "a..b", "example.com", "\"a..b\"@example.com" },
  { "<\"a>b\"@example.com>", F_NONE, "a>b", "example.com", "\"a>b\"@example.com" },
  { "<\"\"@example.com>", F_NONE, "", "example.com", "\"\"@example.com" },
  { "<@a.example,@b.example:user@c.example>", F_NONE, "user", "c.example", "user@c.example" },
  { "<@relay.example:user@example.com>", F_NONE, "user", "example.com", "user@example.com" },
  { "<user@[192.0.2.1]>", F_NONE, "user", "[192.0.2.1]", "user@[192.0.2.1]" },
  { "<user@[IPv6:2001:db8::1]>", F_NONE, "user", "[IPv6:2001:db8::1]", "user@[IPv6:2001:db8::1]" },
  { "<user@[ipv6:::1]>", F_NONE, "user", "[ipv6:::1]", "user@[ipv6:::1]" },
  { "<User@EXAMPLE.COM>", F_NONE, "User", "EXAMPLE.COM", "User@EXAMPLE.COM" },
  { "<a@b-c.d1>", F_NONE, "a", "b-c.d1", "a@b-c.d1" },
  { "<a@localhost>", F_NONE, "a", "localhost", "a@localhost" },
  { "<postmaster@example.com>", F_NONE, "postmaster", "example.com", "postmaster@example.com" },
  { "<jörg@bücher.example>", F_UTF8, "jörg", "bücher.example", "jörg@bücher.example" },
  { "<\"jö rg\"@example.com>", F_UTF8, "jö rg", "example.com", "\"jö rg\"@example.com" },
  { "<用户@例子.广告>", F_UTF8, "用户", "例子.广告", "用户@例子.广告" },
  { "<ascii@example.com>", F_UTF8, "ascii", "example.com", "ascii@example.com" },
};

static void
test_good (void)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (good_cases); i++)
    {
      const GoodCase *c = &good_cases[i];
      g_autoptr(GError) error = NULL;
      g_autoptr(VsmtpAddress) address = NULL;

      g_test_message ("parsing %s", c->path);
      address = vsmtp_address_parse (c->path, -1, c->flags, &error);
      g_assert_no_error (error);
      g_assert_nonnull (address);
      g_assert_cmpstr (vsmtp_address_get_local_part (address), ==, c->local_part);
      g_assert_cmpstr (vsmtp_address_get_domain (address), ==, c->domain);
      g_assert_cmpstr (vsmtp_address_to_string (address), ==, c->string);
      g_assert_false (vsmtp_address_is_null (address));
      g_assert_false (vsmtp_address_is_postmaster (address));
    }
}

static void
test_round_trip (void)
{
  guint i;

  /* to_string, put back in brackets, parses to an equal address with the
   * same string */
  for (i = 0; i < G_N_ELEMENTS (good_cases); i++)
    {
      const GoodCase *c = &good_cases[i];
      g_autoptr(GError) error = NULL;
      g_autoptr(VsmtpAddress) address = vsmtp_address_parse (c->path, -1, c->flags, &error);
      g_autofree char *bracketed = NULL;
      g_autoptr(VsmtpAddress) again = NULL;

      g_assert_no_error (error);
      bracketed = g_strdup_printf ("<%s>", vsmtp_address_to_string (address));
      again = vsmtp_address_parse (bracketed, -1, c->flags, &error);
      g_assert_no_error (error);
      g_assert_true (vsmtp_address_equal (address, again));
      g_assert_cmpstr (vsmtp_address_to_string (again), ==, vsmtp_address_to_string (address));
      g_assert_cmpstr (vsmtp_address_get_local_part (again), ==, c->local_part);
    }
}

static void
test_null (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpAddress) address = NULL;
  g_autoptr(VsmtpAddress) made = vsmtp_address_new_null ();

  address = vsmtp_address_parse ("<>", -1, F_NULL, &error);
  g_assert_no_error (error);
  g_assert_true (vsmtp_address_is_null (address));
  g_assert_false (vsmtp_address_is_postmaster (address));
  g_assert_cmpstr (vsmtp_address_to_string (address), ==, "");
  g_assert_cmpstr (vsmtp_address_get_local_part (address), ==, "");
  g_assert_null (vsmtp_address_get_domain (address));
  g_assert_true (vsmtp_address_equal (address, made));
  g_clear_pointer (&address, vsmtp_address_unref);

  address = vsmtp_address_parse ("<>", -1, F_POSTMASTER | F_UTF8, &error);
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
  g_assert_null (address);
  g_clear_error (&error);

  /* A bare empty string is never the null path */
  address = vsmtp_address_parse ("", -1, F_NULL, &error);
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
  g_assert_null (address);
}

/* A path that ends right after its source route, in a buffer of exactly
 * its length (not NUL-terminated: the sanitizer tier sees a read past it) */
static void
test_source_route_only (void)
{
  const char *paths[] = { "@amp:", "<@relay.example:", "@a,@b:" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      gsize length = strlen (paths[i]);
      g_autofree char *exact = g_memdup2 (paths[i], length);
      g_autoptr(GError) error = NULL;

      g_assert_null (vsmtp_address_parse (exact, length, F_POSTMASTER, &error));
      g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
    }
}

static void
test_postmaster (void)
{
  const char *paths[] = { "<postmaster>", "<PostMaster>", "postmaster" };
  g_autoptr(VsmtpAddress) made = vsmtp_address_new ("Postmaster", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpAddress) with_domain = NULL;
  guint i;

  g_assert_true (vsmtp_address_is_postmaster (made));

  for (i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autoptr(VsmtpAddress) address = vsmtp_address_parse (paths[i], -1, F_POSTMASTER, &error);

      g_assert_no_error (error);
      g_assert_true (vsmtp_address_is_postmaster (address));
      g_assert_false (vsmtp_address_is_null (address));
      g_assert_null (vsmtp_address_get_domain (address));
      g_assert_cmpstr (vsmtp_address_to_string (address), ==, "postmaster");
      g_assert_true (vsmtp_address_equal (address, made));
      g_clear_pointer (&address, vsmtp_address_unref);

      address = vsmtp_address_parse (paths[i], -1, F_NULL, &error);
      g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
      g_assert_null (address);
      g_clear_error (&error);
    }

  /* Other local parts without a domain are never accepted */
  g_assert_null (vsmtp_address_parse ("<webmaster>", -1, F_POSTMASTER, &error));
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
  g_clear_error (&error);
  g_assert_null (vsmtp_address_parse ("<\"postmaster\">", -1, F_POSTMASTER, &error));
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
  g_clear_error (&error);
  g_assert_null (vsmtp_address_parse ("<@relay.example:postmaster>", -1, F_POSTMASTER, &error));
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
  g_clear_error (&error);

  /* postmaster@domain is an ordinary address */
  with_domain = vsmtp_address_parse ("<postmaster@example.com>", -1, F_POSTMASTER, &error);
  g_assert_no_error (error);
  g_assert_false (vsmtp_address_is_postmaster (with_domain));
  g_assert_false (vsmtp_address_equal (with_domain, made));
}

typedef struct {
  const char *path;
  VsmtpAddressFlags flags;
} BadCase;

static const BadCase bad_cases[] = {
  { "<user@example.com", F_NONE },           /* missing closing bracket */
  { "user@example.com>", F_NONE },           /* missing opening bracket */
  { "<<user@example.com>>", F_NONE },
  { "<", F_NULL },
  { ">", F_NULL },
  { "<user..name@example.com>", F_NONE },    /* double dot */
  { "<.user@example.com>", F_NONE },         /* leading dot */
  { "<user.@example.com>", F_NONE },         /* trailing dot */
  { "<user@example..com>", F_NONE },         /* empty domain label */
  { "<user@example.com.>", F_NONE },         /* trailing dot in domain */
  { "<user@.example.com>", F_NONE },
  { "<user@-example.com>", F_NONE },         /* leading hyphen */
  { "<user@example-.com>", F_NONE },         /* trailing hyphen */
  { "<user@exa_mple.com>", F_NONE },
  { "<user@exa mple.com>", F_NONE },
  { "<user@>", F_NONE },
  { "<@>", F_NONE },                         /* bare "@" */
  { "@", F_NONE },
  { "<@example.com>", F_NONE },              /* empty local part */
  { "<user>", F_POSTMASTER },                /* no domain */
  { "<user@@example.com>", F_NONE },
  { "<us er@example.com>", F_NONE },
  { "<us(er@example.com>", F_NONE },
  { "<\"unterminated@example.com>", F_NONE },
  { "<\"a\"b@example.com>", F_NONE },
  { "<\"a\r\"@example.com>", F_NONE },
  { "<user@[192.0.2.256]>", F_NONE },         /* bad IPv4 literal */
  { "<user@[192.0.2]>", F_NONE },
  { "<user@[2001:db8::1]>", F_NONE },         /* IPv6 without the tag */
  { "<user@[IPv6:192.0.2.1]>", F_NONE },
  { "<user@[IPv6:2001:db8::g]>", F_NONE },
  { "<user@[IPv6:fe80::1%eth0]>", F_NONE },
  { "<user@[192.0.2.1>", F_NONE },
  { "<user@[192.0.2.1]x>", F_NONE },
  { "<user@example.com> ", F_NONE },
  { " <user@example.com>", F_NONE },
  { "<@a.example:>", F_NONE },
  { "<@a.example,user@example.com>", F_NONE },
  { "<@,@a.example:user@example.com>", F_NONE },
  { "<jörg@example.com>", F_NONE },           /* 8-bit without SMTPUTF8 */
  { "<user@bücher.example>", F_NONE },
  { "<\"jö\"@example.com>", F_NONE },
  { "<j\xc3@example.com>", F_UTF8 },           /* invalid UTF-8 with it */
  { "<j\xff\xfe@example.com>", F_UTF8 },
  { "<user@ex\xe4mple.com>", F_UTF8 },
  { "", F_NONE },
};

static void
test_bad (void)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(VsmtpAddress) address = NULL;
      g_autofree char *escaped = g_strescape (bad_cases[i].path, NULL);

      address = vsmtp_address_parse (bad_cases[i].path, -1, bad_cases[i].flags, &error);
      if (address != NULL)
        g_error ("“%s” parsed as %s", escaped, vsmtp_address_to_string (address));
      g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
      g_test_message ("%s: %s", escaped, error->message);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }
}

static void
assert_syntax_message (const char        *path,
                       VsmtpAddressFlags  flags,
                       const char        *pattern)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpAddress) address = vsmtp_address_parse (path, -1, flags, &error);

  g_assert_null (address);
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
  if (!g_pattern_match_simple (pattern, error->message))
    g_error ("%s: message “%s” does not match “%s”", path, error->message, pattern);
}

static void
test_bad_messages (void)
{
  assert_syntax_message ("<a..b@example.com>", F_NONE, "*dots*");
  assert_syntax_message ("<.a@example.com>", F_NONE, "*begins with a dot*");
  assert_syntax_message ("<a.@example.com>", F_NONE, "*ends with a dot*");
  assert_syntax_message ("<@example.com>", F_NONE, "*Empty local part*");
  assert_syntax_message ("<a@example.com.>", F_NONE, "*Domain ends with a dot*");
  assert_syntax_message ("<a@-x.com>", F_NONE, "*hyphen*");
  assert_syntax_message ("<a@example.com", F_NONE, "*closing angle bracket*");
  assert_syntax_message ("a@example.com>", F_NONE, "*opening angle bracket*");
  assert_syntax_message ("<jörg@example.com>", F_NONE, "*SMTPUTF8*");
  assert_syntax_message ("<j\xc3@example.com>", F_UTF8, "*UTF-8*");
  assert_syntax_message ("<user@[192.0.2.256]>", F_NONE, "*address literal*");
  assert_syntax_message ("<>", F_NONE, "*Null address*");
}

static void
test_length (void)
{
  const char *path = "<user@example.com>trailing";
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpAddress) address = NULL;
  char with_nul[] = "<us\0er@example.com>";

  /* Only @length bytes are looked at */
  address = vsmtp_address_parse (path, strlen ("<user@example.com>"), F_NONE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vsmtp_address_to_string (address), ==, "user@example.com");
  g_clear_pointer (&address, vsmtp_address_unref);

  address = vsmtp_address_parse (path, strlen ("<user@example"), F_NONE, &error);
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
  g_assert_null (address);
  g_clear_error (&error);

  /* An embedded NUL is an error, not the end */
  address = vsmtp_address_parse (with_nul, sizeof with_nul - 1, F_NONE, &error);
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
  g_assert_null (address);
}

static VsmtpAddress *
parse_sized (gsize     local_length,
             gsize     domain_length,
             gboolean  bracketed,
             GError  **error)
{
  g_autoptr(GString) path = g_string_new (NULL);
  g_autofree char *local = g_strnfill (local_length, 'l');
  gsize i;

  if (bracketed)
    g_string_append_c (path, '<');
  g_string_append (path, local);
  g_string_append_c (path, '@');
  /* labels of 9 letters and a dot, then letters to fill */
  for (i = 0; i < domain_length; i++)
    g_string_append_c (path, (i % 10 == 9 && i + 1 < domain_length) ? '.' : 'd');
  if (bracketed)
    g_string_append_c (path, '>');

  return vsmtp_address_parse (path->str, path->len, F_NONE, error);
}

static void
assert_too_long (VsmtpAddress *address,
                 GError       *error,
                 const char   *what)
{
  g_autofree char *pattern = g_strdup_printf ("*%s too long*", what);

  g_assert_null (address);
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_TOO_LONG);
  if (!g_pattern_match_simple (pattern, error->message))
    g_error ("message “%s” does not match “%s”", error->message, pattern);
}

static void
test_limits (void)
{
  g_autoptr(GError) error = NULL;
  VsmtpAddress *address;

  /* local part: 64 octets */
  address = parse_sized (64, 20, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (vsmtp_address_get_local_part (address)), ==, 64);
  vsmtp_address_unref (address);

  address = parse_sized (65, 20, TRUE, &error);
  assert_too_long (address, error, "Local part");
  g_clear_error (&error);

  /* A quoted local part counts with its quotes: 62 + 2 ok, 63 + 2 not */
  {
    g_autofree char *q62 = g_strnfill (62, 'q');
    g_autofree char *q63 = g_strnfill (63, 'q');
    g_autofree char *ok_path = g_strdup_printf ("<\"%s\"@example.com>", q62);
    g_autofree char *long_path = g_strdup_printf ("<\"%s\"@example.com>", q63);

    address = vsmtp_address_parse (ok_path, -1, F_NONE, &error);
    g_assert_no_error (error);
    vsmtp_address_unref (address);
    address = vsmtp_address_parse (long_path, -1, F_NONE, &error);
    assert_too_long (address, error, "Local part");
    g_clear_error (&error);
  }

  /* path: 256 octets with the brackets: "<" + 64 + "@" + 189 + ">" */
  address = parse_sized (64, 189, TRUE, &error);
  g_assert_no_error (error);
  vsmtp_address_unref (address);

  address = parse_sized (64, 190, TRUE, &error);
  assert_too_long (address, error, "Path");
  g_clear_error (&error);

  /* a bare path counts as if it had its brackets */
  address = parse_sized (64, 189, FALSE, &error);
  g_assert_no_error (error);
  vsmtp_address_unref (address);

  address = parse_sized (64, 190, FALSE, &error);
  assert_too_long (address, error, "Path");
  g_clear_error (&error);

  /* domain: 255 octets. Within a 256-octet path a 255-octet domain does
   * not fit anyway, so the domain limit shows in which error comes first:
   * 255 is within the domain limit (the path is what is too long), 256 is
   * not. */
  address = parse_sized (1, 255, TRUE, &error);
  assert_too_long (address, error, "Path");
  g_clear_error (&error);

  address = parse_sized (1, 256, TRUE, &error);
  assert_too_long (address, error, "Domain");
  g_clear_error (&error);

  address = parse_sized (1, 252, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (vsmtp_address_get_domain (address)), ==, 252);
  vsmtp_address_unref (address);
}

static void
test_new (void)
{
  g_autoptr(VsmtpAddress) plain = vsmtp_address_new ("user", "example.com");
  g_autoptr(VsmtpAddress) spaced = vsmtp_address_new ("john doe", "example.com");
  g_autoptr(VsmtpAddress) quote = vsmtp_address_new ("a\"b", "example.com");
  g_autoptr(VsmtpAddress) ref = NULL;

  g_assert_cmpstr (vsmtp_address_to_string (plain), ==, "user@example.com");
  g_assert_cmpstr (vsmtp_address_to_string (spaced), ==, "\"john doe\"@example.com");
  g_assert_cmpstr (vsmtp_address_to_string (quote), ==, "\"a\\\"b\"@example.com");
  g_assert_false (vsmtp_address_is_null (plain));
  g_assert_false (vsmtp_address_is_postmaster (plain));

  ref = vsmtp_address_ref (plain);
  g_assert_true (ref == plain);
}

static void
test_equal (void)
{
  g_autoptr(VsmtpAddress) a = vsmtp_address_parse ("<User@Example.COM>", -1, F_NONE, NULL);
  g_autoptr(VsmtpAddress) b = vsmtp_address_new ("User", "example.com");
  g_autoptr(VsmtpAddress) c = vsmtp_address_new ("user", "example.com");
  g_autoptr(VsmtpAddress) quoted = vsmtp_address_parse ("<\"User\"@example.com>", -1, F_NONE, NULL);
  g_autoptr(VsmtpAddress) routed = vsmtp_address_parse ("<@x.example:User@example.com>", -1, F_NONE, NULL);
  g_autoptr(VsmtpAddress) other = vsmtp_address_new ("User", "example.org");
  g_autoptr(VsmtpAddress) null = vsmtp_address_new_null ();
  g_autoptr(VsmtpAddress) postmaster = vsmtp_address_new ("postmaster", NULL);

  g_assert_true (vsmtp_address_equal (a, a));
  g_assert_true (vsmtp_address_equal (a, b));
  g_assert_true (vsmtp_address_equal (b, a));
  g_assert_false (vsmtp_address_equal (a, c));   /* local part is case-sensitive */
  g_assert_true (vsmtp_address_equal (a, quoted));
  g_assert_true (vsmtp_address_equal (a, routed));
  g_assert_false (vsmtp_address_equal (a, other));
  g_assert_false (vsmtp_address_equal (a, null));
  g_assert_false (vsmtp_address_equal (null, postmaster));
  g_assert_false (vsmtp_address_equal (postmaster, a));
}

/* SMTPUTF8: the domain's A-label and U-label forms (libidn2) */
typedef struct {
  const char *path;
  VsmtpAddressFlags flags;
  const char *domain;    /* as given */
  const char *ascii;
  const char *unicode;
  gboolean needs_smtputf8;
} IdnaCase;

static const IdnaCase idna_cases[] = {
  { "<jörg@bücher.example>", F_UTF8, "bücher.example", "xn--bcher-kva.example", "bücher.example", TRUE },
  { "<jorg@xn--bcher-kva.example>", F_NONE, "xn--bcher-kva.example", "xn--bcher-kva.example", "bücher.example", FALSE },
  { "<jorg@XN--BCHER-KVA.Example>", F_NONE, "XN--BCHER-KVA.Example", "xn--bcher-kva.example", "bücher.example", FALSE },
  /* UTS #46 mapping: upper case and a decomposed ü */
  { "<a@BÜCHER.example>", F_UTF8, "BÜCHER.example", "xn--bcher-kva.example", "bücher.example", TRUE },
  { "<a@bu\xcc\x88" "cher.example>", F_UTF8, "bu\xcc\x88" "cher.example", "xn--bcher-kva.example", "bücher.example", TRUE },
  /* non-transitional: ß stays ß */
  { "<a@straße.de>", F_UTF8, "straße.de", "xn--strae-oqa.de", "straße.de", TRUE },
  { "<用户@例子.广告>", F_UTF8, "例子.广告", "xn--fsqu00a.xn--4rr70v", "例子.广告", TRUE },
  { "<jörg@example.com>", F_UTF8, "example.com", "example.com", "example.com", TRUE },
  /* not internationalized: as given */
  { "<User@EXAMPLE.COM>", F_NONE, "EXAMPLE.COM", "EXAMPLE.COM", "EXAMPLE.COM", FALSE },
  { "<u@[192.0.2.1]>", F_UTF8, "[192.0.2.1]", "[192.0.2.1]", "[192.0.2.1]", FALSE },
};

static void
test_idna (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (idna_cases); i++)
    {
      const IdnaCase *c = &idna_cases[i];
      g_autoptr(GError) error = NULL;
      g_autoptr(VsmtpAddress) address = vsmtp_address_parse (c->path, -1, c->flags, &error);

      g_test_message ("%s", c->path);
      g_assert_no_error (error);
      g_assert_cmpstr (vsmtp_address_get_domain (address), ==, c->domain);
      g_assert_cmpstr (vsmtp_address_get_domain_ascii (address), ==, c->ascii);
      g_assert_cmpstr (vsmtp_address_get_domain_unicode (address), ==, c->unicode);
      g_assert_cmpint (vsmtp_address_needs_smtputf8 (address), ==, c->needs_smtputf8);
    }
}

static void
test_idna_bad (void)
{
  const struct {
    const char *path;
    VsmtpAddressFlags flags;
    gboolean idna;     /* refused by IDNA, not by the parser's LDH rules */
  } bad[] = {
    { "<a@☃.example>", F_UTF8, TRUE },              /* a symbol: DISALLOWED in IDNA2008 */
    { "<a@xn--n3h.example>", F_NONE, TRUE },        /* the same as an A-label */
    { "<a@xn--a.example>", F_NONE, TRUE },          /* not a valid A-label */
    { "<a@xn--gsh.example>", F_NONE, TRUE },        /* U+247B: UTS #46 maps it, IDNA2008 disallows it */
    { "<a@xn--ab-.example>", F_NONE, FALSE },
    { "<a@bücher.xn--zz.example>", F_UTF8, TRUE },
    { "<a@a．b.example>", F_UTF8, TRUE },           /* U+FF0E would split the label */
    { "<a@ü.ａ＿ｂ.example>", F_UTF8, TRUE },       /* U+FF3F maps to "_" */
    { "<a@ü　b.example>", F_UTF8, TRUE },           /* U+3000 maps to " " */
    { "<a@-bücher.example>", F_UTF8, FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(VsmtpAddress) address = vsmtp_address_parse (bad[i].path, -1, bad[i].flags, &error);

      g_test_message ("%s", bad[i].path);
      g_assert_null (address);
      g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
      g_assert_true (g_str_has_prefix (error->message, "Invalid internationalized domain name: ") == bad[i].idna);
    }

  /* without SMTPUTF8 a U-label is refused before IDNA is asked */
  g_assert_null (vsmtp_address_parse ("<a@bücher.example>", -1, F_NONE, NULL));
}

/* The session's way: the syntax first, the conversion when it decides */
static void
test_idna_deferred (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsmtpAddress) bad = NULL;
  g_autoptr(VsmtpAddress) good = NULL;
  g_autoptr(VsmtpReply) reply = NULL;

  bad = vsmtp_address_parse ("<a@☃.example>", -1, F_UTF8 | _VSMTP_ADDRESS_FLAGS_NO_IDNA, &error);
  g_assert_no_error (error);
  g_assert_true (vsmtp_address_needs_smtputf8 (bad));

  reply = _vsmtp_smtputf8_check_address (bad, TRUE, FALSE);
  g_assert_cmpuint (vsmtp_reply_get_code (reply), ==, 553);
  g_assert_cmpstr (vsmtp_reply_get_enhanced_code (reply), ==, "5.6.7");
  g_clear_object (&reply);
  reply = _vsmtp_smtputf8_check_address (bad, FALSE, TRUE);
  g_assert_cmpuint (vsmtp_reply_get_code (reply), ==, 553);
  g_assert_cmpstr (vsmtp_reply_get_enhanced_code (reply), ==, "5.1.3");
  g_clear_object (&reply);

  good = vsmtp_address_parse ("<jörg@bücher.example>", -1, F_UTF8 | _VSMTP_ADDRESS_FLAGS_NO_IDNA, &error);
  g_assert_no_error (error);
  g_assert_null (_vsmtp_smtputf8_check_address (good, TRUE, TRUE));
  g_assert_cmpstr (vsmtp_address_get_domain_ascii (good), ==, "xn--bcher-kva.example");

  /* RFC 6533 utf-8-address, for ORCPT */
  g_assert_true (_vsmtp_idna_check_mailbox ("jörg@bücher.example", -1, NULL));
  g_assert_false (_vsmtp_idna_check_mailbox ("jörg@☃.example", -1, NULL));
  g_assert_false (_vsmtp_idna_check_mailbox ("<a@example.com>", -1, NULL));
  g_assert_false (_vsmtp_idna_check_mailbox ("j\xc3@example.com", -1, NULL));
}

static void
test_domain_functions (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *a = vsmtp_domain_to_ascii ("Bücher.Example", &error);
  g_autofree char *u = vsmtp_domain_to_unicode ("xn--bcher-kva.example", &error);
  g_autofree char *plain = vsmtp_domain_to_ascii ("Example.COM", &error);
  g_autofree char *bad = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (a, ==, "xn--bcher-kva.example");
  g_assert_cmpstr (u, ==, "bücher.example");
  g_assert_cmpstr (plain, ==, "Example.COM");
  g_assert_true (vsmtp_domain_is_idn ("bücher.example"));
  g_assert_true (vsmtp_domain_is_idn ("a.XN--bcher-kva.example"));
  g_assert_false (vsmtp_domain_is_idn ("axn--b.example"));
  g_assert_false (vsmtp_domain_is_idn ("example.com"));

  bad = vsmtp_domain_to_ascii ("xn--a.example", &error);
  g_assert_null (bad);
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
  g_clear_error (&error);
  g_assert_null (vsmtp_domain_to_unicode ("ex\xe4mple.com", &error));
  g_assert_error (error, VSMTP_ERROR, VSMTP_ERROR_SYNTAX);
}

static void
test_equal_idna (void)
{
  g_autoptr(VsmtpAddress) u = vsmtp_address_parse ("<jorg@bücher.example>", -1, F_UTF8, NULL);
  g_autoptr(VsmtpAddress) a = vsmtp_address_parse ("<jorg@XN--BCHER-KVA.example>", -1, F_NONE, NULL);
  g_autoptr(VsmtpAddress) n = vsmtp_address_new ("jorg", "bücher.example");
  g_autoptr(VsmtpAddress) invalid = vsmtp_address_new ("jorg", "☃.example");
  g_autoptr(VsmtpAddress) null = vsmtp_address_new_null ();

  g_assert_true (vsmtp_address_equal (u, a));
  g_assert_true (vsmtp_address_equal (a, n));
  g_assert_cmpstr (vsmtp_address_get_domain_ascii (n), ==, "xn--bcher-kva.example");
  /* vsmtp_address_new() cannot fail: an invalid domain is kept as given */
  g_assert_cmpstr (vsmtp_address_get_domain_ascii (invalid), ==, "☃.example");
  g_assert_cmpstr (vsmtp_address_get_domain_unicode (invalid), ==, "☃.example");
  g_assert_true (vsmtp_address_local_part_is_ascii (u));
  g_assert_true (vsmtp_address_needs_smtputf8 (u));
  g_assert_false (vsmtp_address_needs_smtputf8 (a));
  g_assert_null (vsmtp_address_get_domain_ascii (null));
  g_assert_null (vsmtp_address_get_domain_unicode (null));
}

static void
test_boxed (void)
{
  g_autoptr(VsmtpAddress) a = vsmtp_address_new ("user", "example.com");
  VsmtpAddress *copy;
  GValue value = G_VALUE_INIT;

  g_assert_true (G_TYPE_IS_BOXED (VSMTP_TYPE_ADDRESS));

  copy = g_boxed_copy (VSMTP_TYPE_ADDRESS, a);
  g_assert_true (copy == a);
  g_boxed_free (VSMTP_TYPE_ADDRESS, copy);

  g_value_init (&value, VSMTP_TYPE_ADDRESS);
  g_value_set_boxed (&value, a);
  g_assert_true (g_value_get_boxed (&value) == a);
  g_value_unset (&value);

  g_assert_cmpstr (vsmtp_address_get_local_part (a), ==, "user");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/address/good", test_good);
  g_test_add_func ("/address/round-trip", test_round_trip);
  g_test_add_func ("/address/null", test_null);
  g_test_add_func ("/address/postmaster", test_postmaster);
  g_test_add_func ("/address/source-route-only", test_source_route_only);
  g_test_add_func ("/address/bad", test_bad);
  g_test_add_func ("/address/bad-messages", test_bad_messages);
  g_test_add_func ("/address/length", test_length);
  g_test_add_func ("/address/limits", test_limits);
  g_test_add_func ("/address/new", test_new);
  g_test_add_func ("/address/equal", test_equal);
  g_test_add_func ("/address/boxed", test_boxed);
  g_test_add_func ("/address/idna", test_idna);
  g_test_add_func ("/address/idna-bad", test_idna_bad);
  g_test_add_func ("/address/idna-deferred", test_idna_deferred);
  g_test_add_func ("/address/domain-functions", test_domain_functions);
  g_test_add_func ("/address/equal-idna", test_equal_idna);

  return g_test_run ();
}
