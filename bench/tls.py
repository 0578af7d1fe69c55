#!/usr/bin/python3
"""bench/tls.py: TLS handshakes of vsmtpd against aiosmtpd.

For an RSA-2048 and an ECDSA P-256 certificate (made with openssl at run
time in the work folder), each server is started with that certificate,
and three loads run against it, interleaved over the rounds:

- starttls: connect, EHLO, STARTTLS, full handshake, EHLO, QUIT;
- implicit: connect, full handshake, greeting, EHLO, QUIT (port 465 style);
- resumed:  the STARTTLS session, the client offering the TLS session of
  its previous connection (Python's ssl `session=`); the share of the
  handshakes the server really resumed is reported.

Sessions/s, the server's CPU time per session (utime+stime of the process
from /proc/PID/stat) and, for each server, the memory of an idle TLS
connection (VmRSS growth over N connections that did STARTTLS and wait).
Writes bench/results-tls.md (--out) and prints the table.

    bench/tls.py --vsmtpd build-bench/daemon/vsmtpd [--rounds 3] [--sessions 2000]

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import platform
import resource
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import TICK, Server, argument_parser, rss_kib  # noqa: E402


def log(*a):
    print("tls-bench:", *a, file=sys.stderr, flush=True)


def make_cert(workdir, kind):
    cert, key = os.path.join(workdir, f"{kind}-cert.pem"), os.path.join(workdir, f"{kind}-key.pem")
    if kind == "rsa2048":
        newkey = ["-newkey", "rsa:2048"]
    else:
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    subprocess.run(["openssl", "req", "-x509", "-nodes", "-days", "30", *newkey,
                    "-keyout", key, "-out", cert, "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    return cert, key


def cpu_seconds(pid):
    """utime+stime of the process alone"""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def servers_for(args, cert, key):
    p = args.port_base
    vsmtpd = Server("vsmtpd", [args.vsmtpd, "--listen", f"127.0.0.1:{p}",
                               "--hostname", "bench.example.org",
                               "--option", "plugins.enabled=discard",
                               "--option", f"server.listen-tls=127.0.0.1:{p + 1}",
                               "--option", "server.max-connections=0",
                               "--option", "server.max-connections-per-client=0",
                               "--option", "server.max-tls-handshakes=0",
                               "--option", "server.max-tls-handshakes-per-client=0",
                               *sum((["--option", kv] for kv in args.vsmtpd_option), []),
                               "--tls-cert", cert, "--tls-key", key], p, p + 1)
    aiosmtpd = Server("aiosmtpd", ["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-c",
                                   "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{p + 2}",
                                   "--tlscert", cert, "--tlskey", key, "--no-requiretls"],
                      p + 2, p + 2)
    return [vsmtpd, aiosmtpd]


# ------------------------------------------------------------------ client

def replies(f):
    while True:
        line = f.readline()
        if not line:
            raise OSError("connection closed")
        if line[3:4] != b"-":
            return int(line[:3])


def session(port, ctx, mode, saved):
    """One session; returns whether the handshake was a resumption."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        if mode != "implicit":
            f = s.makefile("rb")
            if replies(f) != 220:
                raise OSError("no greeting")
            s.sendall(b"EHLO bench.example.org\r\n")
            if replies(f) != 250:
                raise OSError("EHLO refused")
            s.sendall(b"STARTTLS\r\n")
            if replies(f) != 220:
                raise OSError("STARTTLS refused")
            f.close()
        session = saved.get("session") if mode == "resumed" else None
        with ctx.wrap_socket(s, server_hostname="localhost", session=session) as t:
            tf = t.makefile("rb")
            if mode == "implicit" and replies(tf) != 220:
                raise OSError("no greeting")
            t.sendall(b"EHLO bench.example.org\r\n")
            if replies(tf) != 250:
                raise OSError("EHLO after the handshake refused")
            t.sendall(b"QUIT\r\n")
            tf.readline()
            if mode == "resumed" and t.session is not None:
                saved["session"] = t.session
            reused = t.session_reused
            tf.close()
            return reused


def run_load(server, mode, args):
    port = server.tls_port if mode == "implicit" else server.port
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    counter = {"next": 0, "ok": 0, "err": 0, "reused": 0}
    lock = threading.Lock()

    def worker():
        saved = {}
        while True:
            with lock:
                if counter["next"] >= args.sessions:
                    return
                counter["next"] += 1
            try:
                reused = session(port, ctx, mode, saved)
                with lock:
                    counter["ok"] += 1
                    counter["reused"] += bool(reused)
            except (OSError, ssl.SSLError) as e:
                with lock:
                    counter["err"] += 1
                    if counter["err"] <= 3:
                        log(f"{server.name} {mode}: {e}")

    threads = [threading.Thread(target=worker) for _ in range(args.parallel)]
    cpu0, t0 = cpu_seconds(server.proc.pid), time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt, cpu = time.monotonic() - t0, cpu_seconds(server.proc.pid) - cpu0
    ok = counter["ok"]
    return {"rate": ok / dt if dt else 0, "cpu_ms": 1000 * cpu / ok if ok else 0,
            "reused": counter["reused"] / ok if ok else 0, "errors": counter["err"]}


def idle_tls_memory(server, args):
    """VmRSS growth per connection that did STARTTLS and then waits."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    held = []
    # warm up the allocator and the thread pools first
    for _ in range(50):
        session(server.port, ctx, "starttls", {})
    time.sleep(0.5)
    before = rss_kib(server.proc.pid)
    try:
        for _ in range(args.idle):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            f = s.makefile("rb")
            replies(f)
            s.sendall(b"EHLO bench.example.org\r\n")
            replies(f)
            s.sendall(b"STARTTLS\r\n")
            replies(f)
            f.close()
            t = ctx.wrap_socket(s, server_hostname="localhost")
            tf = t.makefile("rb")
            t.sendall(b"EHLO bench.example.org\r\n")
            replies(tf)
            held.append((t, tf))
        time.sleep(1.0)
        after = rss_kib(server.proc.pid)
        return (after - before) / args.idle
    finally:
        for t, tf in held:
            tf.close()
            t.close()


# ------------------------------------------------------------------ main

def main():
    p = argument_parser(__doc__, HERE)
    p.add_argument("--sessions", type=int, default=2000)
    p.add_argument("--parallel", type=int, default=8)
    p.add_argument("--idle", type=int, default=1000, help="idle TLS connections for the memory")
    p.add_argument("--port-base", type=int, default=32520)
    p.add_argument("--certs", default="rsa2048,ecdsa-p256")
    p.add_argument("--loads", default="starttls,implicit,resumed")
    p.add_argument("--only", default="", help="vsmtpd or aiosmtpd")
    p.add_argument("--workdir", default=os.environ.get("BENCH_WORKDIR", "/tmp/vsmtpd-bench-tls"))
    p.add_argument("--out", default=os.path.join(HERE, "results-tls.md"))
    p.add_argument("--vsmtpd-option", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="an extra --option for vsmtpd (repeatable)")
    p.add_argument("--label", default="", help="a line saying what was measured")
    args = p.parse_args()

    os.makedirs(args.workdir, exist_ok=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    loads = args.loads.split(",")
    results = {}
    memory = {}
    for kind in args.certs.split(","):
        cert, key = make_cert(args.workdir, kind)
        servers = servers_for(args, cert, key)
        # aiosmtpd serves implicit TLS from a second process (its --smtpscert)
        smtps = Server("aiosmtpd-smtps", ["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-c",
                                          "aiosmtpd.handlers.Sink", "-l",
                                          f"127.0.0.1:{args.port_base + 3}",
                                          "--smtpscert", cert, "--smtpskey", key],
                       args.port_base + 3, args.port_base + 3)
        if args.only:
            servers = [s for s in servers if s.name == args.only]
        samples = {}
        try:
            for s in servers:
                s.start(args.workdir)
                if s.name == "aiosmtpd" and "implicit" in loads:
                    smtps.start(args.workdir)
            for rnd in range(args.rounds):
                order = servers if rnd % 2 == 0 else servers[::-1]
                for load in loads:
                    for s in order:
                        target = s
                        if s.name == "aiosmtpd" and load == "implicit":
                            target = smtps
                        r = run_load(target, load, args)
                        samples.setdefault((s.name, load), []).append(r)
                        log(f"{kind} round {rnd + 1} {load:9s} {s.name:9s} {r['rate']:7.1f}/s "
                            f"{r['cpu_ms']:.3f} ms CPU, resumed {100 * r['reused']:.0f}%, "
                            f"errors {r['errors']}")
            for s in servers:
                if args.idle:
                    memory[(kind, s.name)] = idle_tls_memory(s, args)
                    log(f"{kind} {s.name}: {memory[(kind, s.name)]:.1f} KiB per idle TLS connection")
        finally:
            for s in servers:
                s.stop()
            if smtps.proc:
                smtps.stop()
        for (name, load), rs in samples.items():
            results[(kind, name, load)] = {
                k: statistics.median(r[k] for r in rs) for k in ("rate", "cpu_ms", "reused")}
            results[(kind, name, load)]["errors"] = sum(r["errors"] for r in rs)

    lines = report(args, results, memory, loads)
    print("\n".join(lines))
    if args.out:
        with open(args.out, "a") as f:
            f.write("\n".join(lines) + "\n\n")


def report(args, results, memory, loads):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    out = [f"### {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} {args.label}".rstrip(), "",
           f"{os.cpu_count()} CPUs ({cpu}), {platform.release()}; {args.sessions:,} sessions "
           f"per load over {args.parallel} client threads (Python ssl, TLS 1.3), median of "
           f"{args.rounds} rounds; CPU: the server's utime+stime per session.", "",
           "| cert | load | vsmtpd sessions/s | vsmtpd CPU ms | aiosmtpd sessions/s | "
           "aiosmtpd CPU ms | rate ratio | CPU ratio | resumed v / a |",
           "|---|---|---|---|---|---|---|---|---|"]
    for kind in args.certs.split(","):
        for load in loads:
            v = results.get((kind, "vsmtpd", load))
            a = results.get((kind, "aiosmtpd", load))
            if not v and not a:
                continue

            def cell(r, k, fmt):
                return fmt.format(r[k]) if r else "–"
            ratio = f"{v['rate'] / a['rate']:.2f}×" if v and a and a["rate"] else "–"
            cratio = f"{v['cpu_ms'] / a['cpu_ms']:.2f}×" if v and a and a["cpu_ms"] else "–"
            out.append(f"| {kind} | {load} | {cell(v, 'rate', '{:.0f}')} | "
                       f"{cell(v, 'cpu_ms', '{:.2f}')} | {cell(a, 'rate', '{:.0f}')} | "
                       f"{cell(a, 'cpu_ms', '{:.2f}')} | {ratio} | {cratio} | "
                       f"{cell(v, 'reused', '{:.0%}')} / {cell(a, 'reused', '{:.0%}')} |")
    if memory:
        out.append("")
        out.append("Memory per idle TLS connection (after STARTTLS and EHLO), VmRSS growth over "
                   f"{args.idle:,} connections: " +
                   ", ".join(f"{name} {kind} {kib:.1f} KiB" for (kind, name), kib in memory.items()))
    return out


if __name__ == "__main__":
    main()
