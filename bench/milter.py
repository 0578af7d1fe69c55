#!/usr/bin/python3
"""The cost of a milter: vsmtpd with OpenDKIM signing every message through
the milter plugin, against the same vsmtpd without it.

Both vsmtpd processes deliver with the discard plugin; OpenDKIM (Debian
`opendkim`) runs with a configuration and a 2048-bit RSA key of this
script's own on a loopback port. smtp-source (Postfix) sends from 20
concurrent sessions over reused connections; the rounds alternate between
the two servers and the medians are reported, with the CPU time per 1,000
messages of vsmtpd and of OpenDKIM. Before measuring, one message goes
through a third vsmtpd (milter and maildir) and must come out signed.

    bench/milter.py --vsmtpd build-bench/daemon/vsmtpd [--rounds 3]
                    [--messages 5000] [--sessions 20] [--size 2048]

Writes bench/results-milter.md.

SPDX-License-Identifier: LGPL-2.1-or-later
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import (BENCH_DIR, Server, log, proc_cpu, run_smtp_source,  # noqa: E402
                   wait_port)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_opendkim(tmp):
    key = os.path.join(tmp, "dkim.private")
    subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = free_port()
    conf = os.path.join(tmp, "opendkim.conf")
    with open(conf, "w") as f:
        f.write(f"Syslog no\nBackground no\nSocket inet:{port}@127.0.0.1\n"
                f"Domain example.org\nSelector bench\nKeyFile {key}\nMode s\n"
                f"Canonicalization relaxed/simple\nPidFile {tmp}/opendkim.pid\n"
                "RequireSafeKeys no\nInternalHosts 127.0.0.1\n")
    proc = subprocess.Popen(["/usr/sbin/opendkim", "-f", "-x", conf],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import socket
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("opendkim did not start")


def vsmtpd(args, name, plugins, milter_port, extra=()):
    port = free_port()
    argv = [args.vsmtpd, "--listen", f"127.0.0.1:{port}", "--hostname", "bench.example.org",
            "--option", f"plugins.enabled={plugins}",
            "--option", "server.max-connections=0",
            "--option", "server.max-connections-per-client=0"]
    if milter_port:
        argv += ["--option", f"milter.milters=opendkim=inet:127.0.0.1:{milter_port}"]
    for kv in extra:
        argv += ["--option", kv]
    return Server(name, argv, port)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vsmtpd", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--messages", type=int, default=5000)
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("--run-timeout", type=float, default=300.0)
    p.add_argument("--results", default=os.path.join(BENCH_DIR, "results-milter.md"))
    args = p.parse_args()

    tmp = tempfile.mkdtemp(prefix="vsmtpd-bench-milter-")
    opendkim, dkim_port = start_opendkim(tmp)
    servers = []
    try:
        # signed, really: one message through milter and maildir
        maildir = os.path.join(tmp, "Maildir")
        check = vsmtpd(args, "check", "milter;maildir", dkim_port, [f"maildir.path={maildir}"])
        check.start(tmp)
        one = argparse.Namespace(**vars(args))
        one.messages, one.sessions = 1, 1
        run_smtp_source(check.port, one, True)
        check.stop()
        files = os.listdir(os.path.join(maildir, "new"))
        with open(os.path.join(maildir, "new", files[0]), "rb") as f:
            if b"\nDKIM-Signature: " not in f.read():
                raise RuntimeError("the check message was not signed")
        log("check message signed by OpenDKIM")

        plain = vsmtpd(args, "vsmtpd-discard", "discard", 0)
        signed = vsmtpd(args, "vsmtpd-discard + OpenDKIM milter", "milter;discard", dkim_port)
        servers = [plain.start(tmp), signed.start(tmp)]
        warm = argparse.Namespace(**vars(args))
        warm.messages = 300
        for s in servers:
            run_smtp_source(s.port, warm, True)

        runs = {s.name: [] for s in servers}
        for rnd in range(args.rounds):
            for s in (servers if rnd % 2 == 0 else servers[::-1]):
                cpu0 = proc_cpu(s.pid)
                dkim0 = proc_cpu(opendkim.pid)
                n, dt, ok = run_smtp_source(s.port, args, True)
                if not ok:
                    raise RuntimeError(f"{s.name}: smtp-source failed")
                cpu = proc_cpu(s.pid) - cpu0
                dkim = proc_cpu(opendkim.pid) - dkim0
                runs[s.name].append((n / dt, cpu * 1000 / n, dkim * 1000 / n))
                log(f"round {rnd + 1}: {s.name}: {n / dt:,.0f} msg/s")

        with open(args.results, "w") as f:
            w = lambda line="": f.write(line + "\n")  # noqa: E731
            w("# Milter cost: OpenDKIM signing through the milter plugin")
            w()
            w(f"bench/milter.py: {args.rounds} rounds, smtp-source -d, {args.sessions} sessions, "
              f"{args.messages} messages of {args.size} bytes a run, medians; both vsmtpd "
              "processes deliver with the discard plugin; OpenDKIM signs with a 2048-bit "
              "RSA key (relaxed/simple).")
            w()
            w("| server | msg/s | vsmtpd CPU s / 1,000 msgs | OpenDKIM CPU s / 1,000 msgs |")
            w("|---|---|---|---|")
            base = None
            for name, r in runs.items():
                rate = statistics.median(x[0] for x in r)
                base = base or rate
                w(f"| {name} | {rate:,.0f} ({rate / base:.2f}×) | "
                  f"{statistics.median(x[1] for x in r):.3f} | "
                  f"{statistics.median(x[2] for x in r):.3f} |")
            w()
            w(f"Runs (msg/s): " + "; ".join(f"{n}: " + ", ".join(f"{x[0]:,.0f}" for x in r)
                                            for n, r in runs.items()))
        log(f"wrote {args.results}")
    finally:
        for s in servers:
            s.stop()
        opendkim.terminate()
        opendkim.wait()
        shutil.rmtree(tmp, True)


if __name__ == "__main__":
    main()
