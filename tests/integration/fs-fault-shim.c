/* fs-fault-shim.c: an LD_PRELOAD module for the integration tests
 * (test_maildir_fallbacks.py) that makes renameat2(), link() and linkat()
 * fail with a chosen errno, so that the maildir plugin's fallbacks for file
 * systems without renameat2(RENAME_NOREPLACE) or without hard links run on
 * any file system. Each call that is not told to fail goes to the real
 * function (dlsym(RTLD_NEXT)). Set in the daemon's environment:
 *
 *   VSMTP_TEST_FAIL_RENAMEAT2=ERRNO   every renameat2() fails with ERRNO
 *   VSMTP_TEST_FAIL_LINK=ERRNO        every link() and linkat() fails with ERRNO
 *   VSMTP_TEST_FAIL_LINK_ACROSS=1     with VSMTP_TEST_FAIL_LINK: only a link
 *                                     from one maildir into another (the two
 *                                     paths' grandparent folders differ), as
 *                                     if each maildir were a mount of its own
 *
 * ERRNO is a name (EINVAL, ENOSYS, EPERM, EXDEV, EIO, ...) or a number.
 * It allocates nothing and keeps no state.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct
{
  const char *name;
  int         value;
} errnos[] = {
  { "EINVAL", EINVAL }, { "ENOSYS", ENOSYS }, { "EPERM", EPERM },
  { "EXDEV", EXDEV }, { "EIO", EIO }, { "EOPNOTSUPP", EOPNOTSUPP },
  { "EMLINK", EMLINK }, { "EACCES", EACCES }, { "ENOSPC", ENOSPC },
};

/* The errno the variable @name asks for, or 0 */
static int
fault (const char *name)
{
  const char *value = getenv (name);

  if (value == NULL || *value == '\0')
    return 0;
  for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
    if (strcmp (value, errnos[i].name) == 0)
      return errnos[i].value;
  return atoi (value);
}

/* The length of @path up to its grandparent's last '/' (the maildir of a
 * file in its tmp/ or new/), or the whole length if it has none */
static size_t
grandparent_length (const char *path)
{
  const char *end = strrchr (path, '/');

  while (end != NULL && end > path && end[-1] == '/')
    end--;
  if (end == NULL || end == path)
    return strlen (path);
  for (const char *p = end - 1; p >= path; p--)
    if (*p == '/')
      return p - path;
  return strlen (path);
}

static int
link_fault (const char *from,
            const char *to)
{
  int e = fault ("VSMTP_TEST_FAIL_LINK");
  const char *across = getenv ("VSMTP_TEST_FAIL_LINK_ACROSS");
  size_t n;

  if (e == 0 || across == NULL || strcmp (across, "1") != 0)
    return e;
  n = grandparent_length (from);
  return n == grandparent_length (to) && strncmp (from, to, n) == 0 ? 0 : e;
}

static void *
real (const char *symbol)
{
  void *f = dlsym (RTLD_NEXT, symbol);

  if (f == NULL)
    {
      fprintf (stderr, "fs-fault-shim: no %s after this module\n", symbol);
      abort ();
    }
  return f;
}

int
renameat2 (int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
           unsigned int flags)
{
  int (*next) (int, const char *, int, const char *, unsigned int);
  int e = fault ("VSMTP_TEST_FAIL_RENAMEAT2");

  if (e != 0)
    {
      errno = e;
      return -1;
    }
  *(void **) &next = real ("renameat2");
  return next (olddirfd, oldpath, newdirfd, newpath, flags);
}

int
link (const char *oldpath, const char *newpath)
{
  int (*next) (const char *, const char *);
  int e = link_fault (oldpath, newpath);

  if (e != 0)
    {
      errno = e;
      return -1;
    }
  *(void **) &next = real ("link");
  return next (oldpath, newpath);
}

int
linkat (int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
  int (*next) (int, const char *, int, const char *, int);
  int e = link_fault (oldpath, newpath);

  if (e != 0)
    {
      errno = e;
      return -1;
    }
  *(void **) &next = real ("linkat");
  return next (olddirfd, oldpath, newdirfd, newpath, flags);
}
