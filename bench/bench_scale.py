"""The scale parts of bench/bench.py: many concurrent idle connections,
one very large message, and the cost of `[server] workers`.

SPDX-License-Identifier: LGPL-2.1-or-later
"""

import multiprocessing
import resource
import socket
import statistics
import threading
import time

import bench as B


# ------------------------------------------- many concurrent connections

def _hold_connections(port, source_ip, count, conn):
    """A client process: opens count connections from source_ip, each
    waiting for its greeting, reports, holds them until told, reports
    how many are still open, and closes them."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks = []
    greeted = B.open_idle(port, count, socks, timeout=300, source_ip=source_ip)
    conn.send({"greeted": greeted})
    conn.recv()  # hold until the parent has read the server's RSS
    conn.send({"alive": B.count_alive(socks)})
    for s in socks:
        s.close()


def vsmtpd_server(args, name, port, *options):
    """vsmtpd-discard on port with the bench's options and these."""
    argv = [args.vsmtpd, "--listen", f"127.0.0.1:{port}", "--hostname", "bench.example.org",
            "--option", "plugins.enabled=discard"]
    for kv in list(options) + args.vsmtpd_options:
        argv += ["--option", kv]
    return B.Server(name, argv, port)


def many_connections_test(args):
    """args.many connections spread over client processes and source
    addresses 127.0.0.2...; vsmtpd with enough workers that no process
    needs more descriptors than the hard limit allows."""
    total = args.many
    per_client = 12500
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    per_client = min(per_client, hard - 500)
    clients = (total + per_client - 1) // per_client
    workers = max(1, -(-int(total * 1.15) // (hard - 500)))  # SO_REUSEPORT spreads unevenly
    server = vsmtpd_server(args, "vsmtpd-many", args.port_base + 7, f"server.workers={workers}")
    server.start(args.workdir)
    ctx = multiprocessing.get_context("fork")
    procs = []
    res = {"connections": total, "workers": workers, "hard_nofile": hard,
           "client_processes": clients}
    try:
        time.sleep(1.0)
        before = B.proc_rss_kib(server.pid)
        t0 = time.monotonic()
        for k in range(clients):
            n = min(per_client, total - k * per_client)
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_hold_connections,
                            args=(server.port, f"127.0.0.{k + 2}", n, child))
            p.start()
            procs.append((p, parent))
        reports = [parent.recv() for _, parent in procs]
        dt = time.monotonic() - t0
        greeted = sum(r["greeted"] for r in reports)
        time.sleep(2.0)
        after = B.proc_rss_kib(server.pid)
        for _, parent in procs:
            parent.send("count")
        alive = sum(parent.recv()["alive"] for _, parent in procs)
        res.update({"rss_before_kib": before, "rss_after_kib": after, "greeted": greeted,
                    "alive": alive, "seconds_to_open": dt,
                    "bytes_per_conn": (after - before) * 1024 / max(greeted, 1),
                    "held": greeted >= total and alive >= total})
        B.log(f"many: {greeted} greeted, {alive} alive of {total}; RSS {before} -> {after} KiB"
              f" ({workers} worker(s))")
    finally:
        for p, parent in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
        server.stop()
    return res


# ------------------------------------------------------- a large message

def big_message_test(args):
    """One message of args.big_mb MB through vsmtpd-discard, the server's
    RSS sampled every 20 ms: it is spooled to disk past spool-threshold."""
    size = args.big_mb * 1024 * 1024
    server = vsmtpd_server(args, "vsmtpd-bigmsg", args.port_base + 8,
                           f"server.max-message-size={size * 2}")
    server.start(args.workdir)
    samples = []
    done = threading.Event()

    def sampler():
        while not done.is_set():
            samples.append(B.proc_rss_kib(server.pid))
            time.sleep(0.02)

    res = {"megabytes": args.big_mb}
    try:
        time.sleep(0.5)
        before = B.proc_rss_kib(server.pid)
        th = threading.Thread(target=sampler)
        th.start()
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as s:
            f = s.makefile("rb")

            def reply():
                while True:
                    line = f.readline()
                    if line[3:4] != b"-":
                        return line

            reply()
            for cmd in (b"EHLO bench.example.org", b"MAIL FROM:<big@example.org>",
                        b"RCPT TO:<sink@example.org>", b"DATA"):
                s.sendall(cmd + b"\r\n")
                reply()
            line = b"x" * 998 + b"\r\n"
            chunk = b"Subject: big\r\n\r\n" + line * 64
            t0 = time.monotonic()
            sent = 0
            while sent < size:
                s.sendall(chunk)
                sent += len(chunk)
            s.sendall(b".\r\n")
            final = reply()
            dt = time.monotonic() - t0
            s.sendall(b"QUIT\r\n")
        done.set()
        th.join()
        res.update({"rss_before_kib": before, "rss_peak_kib": max(samples),
                    "rss_after_kib": B.proc_rss_kib(server.pid), "reply": final.decode().strip(),
                    "seconds": dt, "bytes_sent": sent})
        B.log(f"big message: {sent} bytes, {final.decode().strip()}; RSS {before} KiB,"
              f" peak {max(samples)} KiB")
    finally:
        done.set()
        server.stop()
    return res


# ----------------------------------------------------- [server] workers

def workers_test(args):
    """CPU per message of vsmtpd-discard with 1 and 2 workers, interleaved
    (the CPU of the master and its workers is summed)."""
    servers = [vsmtpd_server(args, f"workers={w}", args.port_base + 10 + w, f"server.workers={w}")
               for w in (1, 2)]
    res = {s.name: {} for s in servers}
    try:
        for s in servers:
            s.start(args.workdir)
        time.sleep(0.5)
        for rnd in range(args.rounds):
            order = servers if rnd % 2 == 0 else servers[::-1]
            for load in ("reuse", "pipeline"):
                for s in order:
                    cpu0 = B.proc_cpu(s.pid)
                    if load == "reuse":
                        n, dt, ok = B.run_smtp_source(s.port, args, True)
                    else:
                        n, dt, ok = B.run_pipeline(s.port, args)
                    cpu = B.proc_cpu(s.pid) - cpu0
                    r = res[s.name].setdefault(load, {"rates": [], "cpu_per_k": []})
                    if ok and n > 0:
                        r["rates"].append(n / dt)
                        r["cpu_per_k"].append(cpu * 1000 / n)
                    B.log(f"workers round {rnd + 1} {load:8} {s.name:10} {n / dt if dt else 0:8.0f}/s"
                          f"  cpu {cpu:6.2f} s")
    finally:
        for s in servers:
            s.stop()
    return res


def median_or_none(values):
    return statistics.median(values) if values else None
