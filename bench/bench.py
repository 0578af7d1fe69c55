#!/usr/bin/python3
"""Benchmark vsmtpd against peer SMTP servers; called by bench/run.sh.

Every server runs as one process on its own loopback port. The throughput
loads are interleaved: in each round every load runs once against every
server (the server order rotates from round to round), and the median over
the rounds is reported. CPU time is the server process's utime+stime from
/proc/PID/stat, read before and after each run. Memory per idle connection
and the 10,000-connection test run afterwards, against a fresh process of
each server.

SPDX-License-Identifier: LGPL-2.1-or-later
"""

import argparse
import json
import os
import platform
import resource
import selectors
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SRC_DIR = os.path.dirname(BENCH_DIR)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


KEEP_MARKER = "<!-- bench.py keeps what follows -->"


def log(*args):
    print("bench:", *args, file=sys.stderr, flush=True)


def proc_tree(pid):
    """pid and its descendants (Haraka runs its SMTP server in a cluster
    worker, a child of the process started)."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parents.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []
                                       ).append(int(name))
            except OSError:
                pass
    pids = [pid]
    for p in pids:
        pids += parents.get(p, [])
    return pids


def proc_cpu(pid):
    """utime + stime of pid and its descendants, in seconds."""
    total = 0
    for p in proc_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is field 3 (state): utime is field 14, stime field 15,
        # then cutime and cstime: the children it has reaped (a worker that
        # exited between two readings still counts)
        total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / CLK_TCK


def proc_rss_kib(pid):
    """VmRSS of pid and its descendants, in KiB."""
    total = 0
    for p in proc_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def wait_port(port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.settimeout(5)
                if s.recv(512).startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return True
        except OSError:
            time.sleep(0.1)
    return False


def ehlo_features(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"EHLO probe.example.org\r\n")
        feats = []
        while True:
            line = f.readline()
            if not line:
                break
            feats.append(line[4:].strip().decode().upper())
            if line[3:4] != b"-":
                break
        s.sendall(b"QUIT\r\n")
        return feats


class Server:
    """One server process under test."""

    def __init__(self, name, argv, port, cwd=None, env=None, tls=False, cleanup=None):
        self.name, self.argv, self.port = name, argv, port
        self.cwd, self.env, self.tls, self.cleanup = cwd, env, tls, cleanup
        self.proc = None
        self.logfile = None

    def start(self, workdir):
        self.logfile = open(os.path.join(workdir, f"{self.name}.log"), "ab")
        self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=self.logfile,
                                     stderr=subprocess.STDOUT)
        if not wait_port(self.port):
            self.stop()
            raise RuntimeError(f"{self.name} did not start; see {workdir}/{self.name}.log")
        return self

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.logfile:
            self.logfile.close()
            self.logfile = None


# ---------------------------------------------------------------- loads

def run_smtp_source(port, args, reuse):
    argv = ["smtp-source", "-s", str(args.sessions), "-m", str(args.messages),
            "-l", str(args.size), "-f", "bench@example.org", "-t", "sink@example.org",
            "-M", "bench.example.org"]
    if reuse:
        argv.append("-d")
    argv.append(f"127.0.0.1:{port}")
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, timeout=args.run_timeout)
    dt = time.monotonic() - t0
    ok = r.returncode == 0
    if not ok:
        log("smtp-source failed:", r.stderr.decode(errors="replace").strip()[-300:])
    return (args.messages if ok else 0), dt, ok


def run_pipeline(port, args, mode="data"):
    argv = [os.path.join(args.bindir, "smtp-pipeline"), "127.0.0.1", str(port),
            str(args.sessions), str(args.messages), str(args.size), str(int(args.run_timeout)),
            mode]
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, capture_output=True, timeout=args.run_timeout + 10)
    except subprocess.TimeoutExpired:
        return 0, time.monotonic() - t0, False
    dt = time.monotonic() - t0
    out = dict(kv.split("=") for kv in r.stdout.decode().split())
    if r.returncode != 0:
        log("smtp-pipeline failed:", r.stdout.decode().strip(), r.stderr.decode()[-300:])
    return int(out.get("messages", 0)), float(out.get("seconds", dt)), r.returncode == 0


def starttls_session(port, ctx):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        f = s.makefile("rb")

        def reply():
            while True:
                line = f.readline()
                if not line:
                    raise OSError("connection closed")
                if line[3:4] != b"-":
                    return int(line[:3])

        if reply() != 220:
            raise OSError("no greeting")
        s.sendall(b"EHLO bench.example.org\r\n")
        if reply() != 250:
            raise OSError("EHLO refused")
        s.sendall(b"STARTTLS\r\n")
        if reply() != 220:
            raise OSError("STARTTLS refused")
        f.close()
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            tf = t.makefile("rb")
            t.sendall(b"EHLO bench.example.org\r\n")
            while True:
                line = tf.readline()
                if not line or line[3:4] != b"-":
                    break
            if not line.startswith(b"250"):
                raise OSError("EHLO after STARTTLS refused")
            t.sendall(b"QUIT\r\n")
            tf.readline()
            tf.close()


def run_starttls(port, args):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    total = args.tls_sessions
    counter = {"next": 0, "ok": 0, "err": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + args.run_timeout

    def worker():
        while time.monotonic() < deadline:
            with lock:
                if counter["next"] >= total:
                    return
                counter["next"] += 1
            try:
                starttls_session(port, ctx)
                with lock:
                    counter["ok"] += 1
            except (OSError, ssl.SSLError) as e:
                with lock:
                    counter["err"] += 1
                    if counter["err"] == 1:
                        log(f"STARTTLS session on port {port} failed:", e)

    threads = [threading.Thread(target=worker) for _ in range(args.tls_parallel)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.monotonic() - t0
    return counter["ok"], dt, counter["err"] == 0


# ----------------------------------------------------- idle connections

def open_idle(port, count, socks, timeout=120.0, source_ip=None):
    """Opens count connections (from source_ip if given), waits for each
    greeting; returns how many got it. Appends the sockets to socks."""
    sel = selectors.DefaultSelector()
    greeted = 0
    pending = 0
    started = 0
    deadline = time.monotonic() + timeout
    while (started < count or pending) and time.monotonic() < deadline:
        # keep at most 200 handshakes in flight: a burst of thousands of
        # SYNs would just measure the listen backlog
        while started < count and pending < 200:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                if source_ip:
                    s.bind((source_ip, 0))
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            except OSError as e:
                log(f"connect #{started} from {source_ip or 'any'} failed: {e}")
                s.close()
                return greeted
            sel.register(s, selectors.EVENT_READ)
            socks.append(s)
            started += 1
            pending += 1
        for key, _ in sel.select(timeout=1.0):
            s = key.fileobj
            sel.unregister(s)
            pending -= 1
            try:
                data = s.recv(512)
            except OSError:
                data = b""
            if data.startswith(b"220"):
                greeted += 1
    sel.close()
    return greeted


def count_alive(socks):
    """Sockets the server has not closed (no EOF, no data pending)."""
    alive = 0
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    closed = set()
    for key, _ in sel.select(timeout=0.5):
        try:
            if key.fileobj.recv(512, socket.MSG_PEEK) == b"":
                closed.add(key.fileobj)
        except OSError:
            closed.add(key.fileobj)
    sel.close()
    alive = len(socks) - len(closed)
    return alive


def memory_test(server, workdir, args):
    server.start(workdir)
    socks = []
    try:
        time.sleep(0.5)
        before = proc_rss_kib(server.pid)
        greeted = open_idle(server.port, args.idle, socks)
        time.sleep(2.0)
        after = proc_rss_kib(server.pid)
        per_conn = (after - before) * 1024 / max(greeted, 1)
        res = {"rss_before_kib": before, "rss_after_kib": after,
               "greeted_5000": greeted, "bytes_per_idle_conn": per_conn}
        more = open_idle(server.port, args.max_conns - args.idle, socks)
        time.sleep(2.0)
        alive = count_alive(socks)
        res["greeted_total"] = greeted + more
        res["alive_total"] = alive
        res["held_10000"] = (greeted + more) >= args.max_conns and alive >= args.max_conns
        res["rss_at_max_kib"] = proc_rss_kib(server.pid)
        log(f"{server.name}: idle RSS {before} -> {after} KiB for {greeted}; "
            f"{greeted + more} greeted, {alive} alive of {args.max_conns}")
        return res
    finally:
        for s in socks:
            s.close()
        time.sleep(1.0)
        server.stop()


# ----------------------------------------------------------- the servers

def vsmtpd_server(name, port, args, plugin, extra, binary=None):
    argv = [binary or args.vsmtpd, "--listen", f"127.0.0.1:{port}", "--hostname", "bench.example.org",
            "--option", f"plugins.enabled={plugin}"]
    for kv in extra:
        argv += ["--option", kv]
    return Server(name, argv, port, tls=args.vsmtpd_tls)


def vsmtpd_known_options(args, wanted):
    """The KEY=VALUE options of wanted that this build of vsmtpd accepts: a
    key it does not know makes it exit at once, naming the key."""
    known = []
    for kv in wanted:
        proc = subprocess.Popen([args.vsmtpd, "--listen", f"127.0.0.1:{args.port_base + 9}",
                                 "--option", "plugins.enabled=discard", "--option", kv],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _, err = proc.communicate(timeout=1.5)
            if "unknown key" in err.decode():
                continue
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.communicate(timeout=15)
        known.append(kv)
    return known


def make_servers(args, workdir):
    maildir = args.maildir
    extra = args.vsmtpd_options
    servers = [
        vsmtpd_server("vsmtpd-discard", args.port_base + 0, args, "discard", extra),
        vsmtpd_server("vsmtpd-maildir", args.port_base + 1, args, "maildir",
                      extra + [f"maildir.path={maildir}"]),
        Server("smtp-sink", ["smtp-sink", "-u", "nobody", "-m", "20000",
                             f"127.0.0.1:{args.port_base + 2}", "4096"], args.port_base + 2),
        Server("aiosmtpd", ["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-c",
                            "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{args.port_base + 3}",
                            "--tlscert", args.cert, "--tlskey", args.key, "--no-requiretls"],
               args.port_base + 3, tls=True),
        Server("haraka", ["node", os.path.join(args.haraka_home, "node_modules", "Haraka", "bin",
                                               "haraka"), "-c", os.path.join(args.haraka_home,
                                                                             "instance")],
               args.port_base + 4, tls=True),
    ]
    servers[1].cleanup = lambda: clean_maildir(maildir)
    if args.baseline_vsmtpd:
        # another build (an older commit, say) measured in the same rounds
        servers.append(vsmtpd_server("vsmtpd-discard-before", args.port_base + 5, args, "discard",
                                     extra + args.baseline_option, binary=args.baseline_vsmtpd))
    return servers


def clean_maildir(path):
    for sub in ("new", "cur", "tmp"):
        d = os.path.join(path, sub)
        if os.path.isdir(d):
            for name in os.listdir(d):
                try:
                    os.unlink(os.path.join(d, name))
                except OSError:
                    pass


# ------------------------------------------------------------- reporting

def versions(args):
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, timeout=20
                                  ).stdout.decode().strip().splitlines()[0]
        except Exception:
            return "?"
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = f.readline().split()[1]
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": f"{int(mem) // 1024} MiB",
        "kernel": platform.release(),
        "os": sh(". /etc/os-release; echo $PRETTY_NAME"),
        "vsmtpd": sh(f"{args.vsmtpd} --version"),
        "glib": sh("pkg-config --modversion glib-2.0"),
        "postfix (smtp-sink, smtp-source)": sh("postconf -d -h mail_version"),
        "aiosmtpd": sh("/usr/bin/python3 -c 'import aiosmtpd; print(aiosmtpd.__version__)'"),
        "python": sh("/usr/bin/python3 --version"),
        "haraka": sh(f"node -p \"require('{args.haraka_home}/node_modules/Haraka/package.json')"
                     ".version\""),
        "node": sh("node --version"),
    }


def fmt(v, digits=0):
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f}"


def summary_table(w, results):
    """One table: vsmtpd-discard against each peer, per load."""
    ref = results.get("vsmtpd-discard", {})
    peers = [p for p in ("smtp-sink", "aiosmtpd", "haraka") if p in results]
    if not ref:
        return
    w("## Summary: vsmtpd-discard against the peers\n")
    w("Medians of the interleaved rounds below. A ratio is vsmtpd-discard's rate divided by"
      " the peer's (above 1: vsmtpd is faster); CPU is the server's per 1,000 messages (per"
      " session for STARTTLS, in ms).\n")
    w("| load | vsmtpd msg/s | vsmtpd CPU | " +
      " | ".join(f"÷ {p} | {p} CPU" for p in peers) + " |")
    w("|---|---:|---:|" + "---:|---:|" * len(peers))
    for key, title in (("new", "new connection per message"), ("reuse", "reused connections"),
                       ("pipeline", "pipelined"), ("bdat", "pipelined BDAT"),
                       ("starttls", "STARTTLS sessions")):
        r = ref.get(key)
        if not r or not r["rates"]:
            continue
        rate = statistics.median(r["rates"])
        digits = 2 if key == "starttls" else 3
        row = [title, fmt(rate), fmt(statistics.median(r["cpu_per_k"]), digits)]
        for p in peers:
            pr = results[p].get(key)
            if pr and pr["rates"]:
                row += [f"{rate / statistics.median(pr['rates']):.2f}×",
                        fmt(statistics.median(pr["cpu_per_k"]), digits)]
            else:
                row += ["n/a", ""]
        w("| " + " | ".join(row) + " |")
    w("")


def scale_sections(w, args, scale):
    many = scale.get("many")
    if many:
        w(f"## {many['connections']:,} concurrent idle connections\n")
        w(f"vsmtpd-discard with `server.workers={many['workers']}` (the hard descriptor limit"
          f" here is {many['hard_nofile']:,} per process, so one process cannot hold them all),"
          f" {many['client_processes']} client processes, each from its own source address"
          " (127.0.0.2, 127.0.0.3, ...: one source address has about 28,000 ephemeral ports);"
          " every connection waits for its greeting, and two seconds later the client checks"
          " that all are still open. RSS is the sum over the master and its workers.\n")
        w("| connections | greeted | still open | RSS before (KiB) | RSS held (KiB) |"
          " bytes per connection | seconds to open |")
        w("|---:|---:|---:|---:|---:|---:|---:|")
        w(f"| {many['connections']:,} | {many['greeted']:,} | {many['alive']:,} |"
          f" {many['rss_before_kib']:,} | {many['rss_after_kib']:,} |"
          f" {many['bytes_per_conn']:,.0f} | {many['seconds_to_open']:.1f} |")
        w("")
    big = scale.get("bigmsg")
    if big:
        w(f"## One {big['megabytes']} MB message\n")
        w("vsmtpd-discard, one connection, DATA with lines of 1,000 octets; the server's RSS is"
          " sampled every 20 ms. Past `spool-threshold` (1 MiB by default) the message is"
          " spooled to a file, so RSS stays flat.\n")
        w("| bytes sent | reply | seconds | RSS before (KiB) | RSS peak (KiB) | RSS after (KiB) |")
        w("|---:|---|---:|---:|---:|---:|")
        w(f"| {big['bytes_sent']:,} | {big['reply']} | {big['seconds']:.2f} |"
          f" {big['rss_before_kib']:,} | {big['rss_peak_kib']:,} | {big['rss_after_kib']:,} |")
        w("")
    workers = scale.get("workers")
    if workers:
        w("## `[server] workers`: CPU per message with 1 and 2 workers\n")
        w("On 2 cores shared with the load generator a scaling figure means little; what is"
          " measured is the CPU of vsmtpd-discard (master and workers summed) per 1,000"
          " messages, the two configurations interleaved in the same rounds.\n")
        w("| load | workers=1 msg/s | workers=1 CPU s / 1,000 | workers=2 msg/s |"
          " workers=2 CPU s / 1,000 | CPU 2 ÷ 1 |")
        w("|---|---:|---:|---:|---:|---:|")
        for load in ("reuse", "pipeline"):
            a = workers.get("workers=1", {}).get(load)
            b = workers.get("workers=2", {}).get(load)
            if not a or not b or not a["rates"] or not b["rates"]:
                continue
            ca, cb = statistics.median(a["cpu_per_k"]), statistics.median(b["cpu_per_k"])
            w(f"| {load} | {fmt(statistics.median(a['rates']))} | {ca:.3f} |"
              f" {fmt(statistics.median(b['rates']))} | {cb:.3f} | {cb / ca:.2f} |")
        w("")


def write_results(path, args, info, results, memory, started, scale=None):
    loads = [("new", "new connection per message (smtp-source)"),
             ("reuse", "connections reused (smtp-source -d)"),
             ("pipeline", "pipelined MAIL/RCPT/DATA (smtp-pipeline)"),
             ("bdat", "pipelined MAIL/RCPT/BDAT LAST (smtp-pipeline bdat)"),
             ("starttls", "STARTTLS sessions (EHLO, STARTTLS, EHLO, QUIT)")]
    names = [s for s in results]
    lines = []
    w = lines.append
    w("# vsmtpd benchmark results\n")
    w(f"Generated by `bench/run.sh` on {time.strftime('%Y-%m-%d %H:%M %Z', time.localtime(started))},"
      f" {args.rounds} interleaved rounds (median reported), all traffic on loopback, client"
      " and server on the same machine.\n")
    w("## Machine\n")
    w("| | |\n|---|---|")
    for k, v in info.items():
        w(f"| {k} | {v} |")
    w("")
    w(f"Load: {args.sessions} parallel sessions, {args.messages:,} messages of {args.size} bytes"
      f" of payload per run; STARTTLS: {args.tls_sessions:,} sessions over {args.tls_parallel}"
      " client threads (Python `ssl`), RSA-2048 test certificate.\n")
    summary_table(w, results)
    ref = "vsmtpd-discard"
    for key, title in loads:
        w(f"## {title}\n")
        unit = "sessions/s" if key == "starttls" else "msg/s"
        per = "CPU ms per session" if key == "starttls" else "server CPU s / 1,000 msg"
        w(f"| server | {unit} (median) | runs | {per} | vsmtpd-discard ÷ server |")
        w("|---|---:|---|---:|---:|")
        refrate = None
        rr = results.get(ref, {}).get(key)
        if rr and rr["rates"]:
            refrate = statistics.median(rr["rates"])
        for name in names:
            r = results[name].get(key)
            if r is None:
                w(f"| {name} | n/a | {results[name].get(key + '_note', 'not run')} | | |")
                continue
            if not r["rates"]:
                w(f"| {name} | failed | | | |")
                continue
            rate = statistics.median(r["rates"])
            cpu = statistics.median(r["cpu_per_k"])
            if key == "starttls":
                cpu_s = fmt(cpu, 2)  # ms per session: cpu per 1000 == ms per 1
            else:
                cpu_s = fmt(cpu, 3)
            runs = " / ".join(fmt(x) for x in r["rates"])
            ratio = f"{refrate / rate:.2f}×" if refrate else "n/a"
            w(f"| {name} | {fmt(rate)} | {runs} | {cpu_s} | {ratio} |")
        w("")
    w("## Idle connections\n")
    w(f"A fresh process of each server; {args.idle:,} connections are opened (each waits for"
      " the greeting) and the server's VmRSS is compared before and after; then the client"
      f" goes on to {args.max_conns:,} connections and checks that all got the greeting and"
      " are still open two seconds later.\n")
    w(f"| server | RSS before (KiB) | RSS at {args.idle:,} (KiB) | bytes per idle connection |"
      f" RSS at {args.max_conns:,} (KiB) | {args.max_conns:,} held |")
    w("|---|---:|---:|---:|---:|---|")
    for name in names:
        m = memory.get(name)
        if not m:
            w(f"| {name} | n/a | | | | |")
            continue
        held = "yes" if m["held_10000"] else \
            f"no ({m['greeted_total']:,} greeted, {m['alive_total']:,} open)"
        w(f"| {name} | {m['rss_before_kib']:,} | {m['rss_after_kib']:,} |"
          f" {m['bytes_per_idle_conn']:,.0f} | {m['rss_at_max_kib']:,} | {held} |")
    w("")
    scale_sections(w, args, scale or {})
    w("## Notes\n")
    w("- msg/s is messages accepted (250 after the data) divided by the client's wall time.")
    w("- Server CPU is utime+stime of the server process and its descendants, from"
      " `/proc/PID/stat`, and RSS is VmRSS summed the same way:"
      " Haraka runs with its default of one cluster worker (a child of its master process);"
      " smtp-sink, aiosmtpd and vsmtpd are one process each.")
    w(f"- vsmtpd-maildir delivers into `{args.maildir}` (emptied between runs); the other"
      " servers discard (smtp-sink, aiosmtpd's `Sink` handler, Haraka with a queue hook"
      " answering OK).")
    w("- smtp-pipeline sends MAIL, RCPT and DATA in one write and the message content with"
      " its final dot in a second one: two round trips per message instead of four. (Sending"
      " the next MAIL in the same write as the final dot, which RFC 2920 allows, is refused"
      " by Haraka with 503, so the load does not do it.)")
    w("- smtp-pipeline's bdat mode (RFC 3030 CHUNKING) sends MAIL, RCPT, `BDAT n LAST` and"
      " the n octets of content in one write: one round trip per message. Only servers that"
      " advertise CHUNKING take part.")
    w("- Haraka's pipeline rate (about 45 ms per message and session) looks like Nagle's"
      " algorithm meeting delayed ACKs: it answers the grouped MAIL/RCPT/DATA in separate"
      " small writes; the other servers answer the group in one write or set TCP_NODELAY.")
    w("- Client and servers share the machine's CPUs, and other work on the machine shows as"
      " spread between the rounds (the `runs` column): compare medians of the same run.")
    w("- A server that does not advertise STARTTLS (smtp-sink) takes no part in that test."
      " All TLS servers use the same RSA-2048 certificate, tests/data/test-cert.pem.")
    # a hand-written part (profiles, what changed) after the marker stays
    kept = ""
    try:
        with open(path) as f:
            old = f.read()
        if KEEP_MARKER in old:
            kept = "\n" + old[old.index(KEEP_MARKER):]
    except OSError:
        pass
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n" + kept)


# ------------------------------------------------------------------ main

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vsmtpd", required=True)
    p.add_argument("--bindir", required=True)
    p.add_argument("--haraka-home", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--workdir", default="/tmp/vsmtpd-bench")
    p.add_argument("--maildir", default=None)
    p.add_argument("--results", default=None,
                   help="default: bench/results.md, WORKDIR/results-quick.md with --quick")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--messages", type=int, default=10000)
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("--tls-sessions", type=int, default=1000)
    p.add_argument("--tls-parallel", type=int, default=8)
    p.add_argument("--idle", type=int, default=5000)
    p.add_argument("--max-conns", type=int, default=10000)
    p.add_argument("--run-timeout", type=float, default=120.0)
    p.add_argument("--many", type=int, default=50000,
                   help="concurrent idle connections of the scale test")
    p.add_argument("--big-mb", type=int, default=100, help="size of the large message, MB")
    p.add_argument("--baseline-vsmtpd", default=None,
                   help="another vsmtpd build to measure as vsmtpd-discard-before")
    p.add_argument("--baseline-option", action="append", default=[],
                   help="KEY=VALUE for the baseline vsmtpd, e.g. plugins.path=BUILD/plugins/discard")
    p.add_argument("--quick", action="store_true",
                   help="one round of 2,000 messages, no memory or scale tests (under a minute)")
    p.add_argument("--port-base", type=int, default=32500)
    p.add_argument("--only", default="", help="comma-separated server names")
    p.add_argument("--skip", default="",
                   help="comma-separated: new,reuse,pipeline,bdat,starttls,memory,many,bigmsg,workers")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite the results from WORKDIR/results.json without running")
    args = p.parse_args()
    if args.results is None:
        args.results = (os.path.join(args.workdir, "results-quick.md") if args.quick
                        else os.path.join(BENCH_DIR, "results.md"))
    if args.quick:
        args.rounds = 1
        args.messages = 2000
        args.tls_sessions = 200
        args.skip = ",".join(filter(None, [args.skip, "memory", "many", "bigmsg", "workers"]))

    if args.report_only:
        with open(os.path.join(args.workdir, "results.json")) as f:
            saved = json.load(f)
        for k, v in saved.get("args", {}).items():
            setattr(args, k, v)
        write_results(args.results, args, saved.get("machine") or versions(args),
                      saved["results"], saved["memory"], saved.get("started", time.time()),
                      saved.get("scale"))
        log(f"wrote {args.results}")
        return

    started = time.time()
    load_at_start = os.getloadavg()
    os.makedirs(args.workdir, exist_ok=True)
    if args.maildir is None:
        base = "/dev/shm" if os.path.isdir("/dev/shm") else args.workdir
        args.maildir = os.path.join(base, "vsmtpd-bench-maildir")
    os.makedirs(args.maildir, exist_ok=True)

    # the client and the servers both need well over 10,000 descriptors
    want = args.max_conns + 5000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
        except (ValueError, OSError):
            log(f"cannot raise the descriptor limit to {want} (hard limit {hard})")
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    else:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(want, hard)), hard))

    # lift the per-client limits (all the load comes from 127.0.0.1) and
    # use the same certificate as the peers, with the keys this build knows
    args.vsmtpd_options = vsmtpd_known_options(args, [
        "server.max-connections=0", "server.max-connections-per-client=0",
        f"server.tls-certificate={args.cert}", f"server.tls-key={args.key}"])
    log("vsmtpd options:", " ".join(args.vsmtpd_options))
    args.vsmtpd_tls = False
    skip = set(filter(None, args.skip.split(",")))

    servers = make_servers(args, args.workdir)
    if args.only:
        only = set(args.only.split(","))
        servers = [s for s in servers if s.name in only]

    results = {s.name: {} for s in servers}
    memory = {}
    try:
        for s in servers:
            s.start(args.workdir)
            feats = ehlo_features(s.port)
            s.tls = "STARTTLS" in feats
            if not s.tls:
                results[s.name]["starttls_note"] = "no STARTTLS advertised"
            s.chunking = "CHUNKING" in feats
            if not s.chunking:
                results[s.name]["bdat_note"] = "no CHUNKING advertised"
            log(f"{s.name} (pid {s.pid}) on port {s.port}: {', '.join(feats[1:])}")
        # warm-up: one short run of each load against each server
        warm = argparse.Namespace(**vars(args))
        warm.messages = 500
        for s in servers:
            run_smtp_source(s.port, warm, True)
            if s.cleanup:
                s.cleanup()

        loads = [l for l in ("new", "reuse", "pipeline", "bdat", "starttls") if l not in skip]
        for rnd in range(args.rounds):
            order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
            for load in loads:
                for s in order:
                    if load == "starttls" and not s.tls:
                        continue
                    if load == "bdat" and not s.chunking:
                        continue
                    cpu0 = proc_cpu(s.pid)
                    if load == "new":
                        n, dt, ok = run_smtp_source(s.port, args, False)
                    elif load == "reuse":
                        n, dt, ok = run_smtp_source(s.port, args, True)
                    elif load == "pipeline":
                        n, dt, ok = run_pipeline(s.port, args)
                    elif load == "bdat":
                        n, dt, ok = run_pipeline(s.port, args, "bdat")
                    else:
                        n, dt, ok = run_starttls(s.port, args)
                    cpu = proc_cpu(s.pid) - cpu0
                    r = results[s.name].setdefault(load, {"rates": [], "cpu_per_k": []})
                    if ok and n > 0:
                        r["rates"].append(n / dt)
                        r["cpu_per_k"].append(cpu * 1000 / n)
                    log(f"round {rnd + 1} {load:8} {s.name:15} {n:6} in {dt:7.2f} s ="
                        f" {n / dt if dt else 0:8.0f}/s  cpu {cpu:6.2f} s{'' if ok else '  FAILED'}")
                    if s.cleanup:
                        s.cleanup()
                    if s.proc.poll() is not None:
                        log(f"{s.name} died; restarting")
                        s.start(args.workdir)
    finally:
        for s in servers:
            s.stop()

    if "memory" not in skip:
        for s in servers:
            try:
                memory[s.name] = memory_test(s, args.workdir, args)
            except Exception as e:  # keep the other results
                log(f"memory test of {s.name} failed: {e}")
                s.stop()
            if s.cleanup:
                s.cleanup()

    scale = {}
    if "vsmtpd-discard" in results:
        import bench_scale
        for key, test in (("workers", bench_scale.workers_test),
                          ("bigmsg", bench_scale.big_message_test),
                          ("many", bench_scale.many_connections_test)):
            if key in skip:
                continue
            try:
                scale[key] = test(args)
            except Exception as e:  # keep the other results
                log(f"{key} test failed: {e}")

    shutil.rmtree(args.maildir, ignore_errors=True)
    info = versions(args)
    # other work on the machine: compare within a run, not across runs
    info["load average at start, at end (1 min)"] = \
        f"{load_at_start[0]:.2f}, {os.getloadavg()[0]:.2f}"
    saved_args = {k: getattr(args, k) for k in ("rounds", "sessions", "messages", "size",
                                                "tls_sessions", "tls_parallel", "idle",
                                                "max_conns", "maildir", "many", "big_mb",
                                                "quick")}
    with open(os.path.join(args.workdir, "results.json"), "w") as f:
        json.dump({"results": results, "memory": memory, "machine": info, "args": saved_args,
                   "started": started, "scale": scale}, f, indent=1)
    write_results(args.results, args, info, results, memory, started, scale)
    lines = []
    summary_table(lines.append, results)
    print("\n".join(lines))
    log(f"wrote {args.results}")


if __name__ == "__main__":
    main()
