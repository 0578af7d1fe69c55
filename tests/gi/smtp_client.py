#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A scripted smtplib client for the GJS tests: smtp_client.py PORT STEPS

STEPS is a JSON list of commands, each a list: ["ehlo", NAME],
["helo", NAME], ["mail", ADDRESS, [OPTION...]], ["rcpt", ADDRESS],
["data", TEXT], ["rset"], ["noop"], ["quit"]. Prints one JSON list with
[code, text] for each step (text decoded as UTF-8, lines joined by "\\n").
"""
import json
import smtplib
import sys

port = int(sys.argv[1])
steps = json.loads(sys.argv[2])
results = []
s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.gjs-test.example",
                 timeout=30)
try:
    for step in steps:
        verb, args = step[0], step[1:]
        if verb == "ehlo":
            r = s.ehlo(args[0])
        elif verb == "helo":
            r = s.helo(args[0])
        elif verb == "mail":
            r = s.mail(args[0], args[1] if len(args) > 1 else [])
        elif verb == "rcpt":
            r = s.rcpt(args[0])
        elif verb == "data":
            try:
                r = s.data(args[0].encode("utf-8"))
            except smtplib.SMTPDataError as e:   # DATA itself refused
                r = (e.smtp_code, e.smtp_error)
        elif verb in ("rset", "noop", "quit"):
            r = getattr(s, verb)()
        else:
            raise SystemExit(f"unknown step {verb}")
        results.append([r[0], r[1].decode("utf-8", "replace")])
finally:
    s.close()
print(json.dumps(results))
