#!/usr/bin/python3
"""bench/maildir.py: maildir delivery against discard, and fsyncs per message.

1. vsmtpd with the discard plugin and vsmtpd with the maildir plugin into
   tmpfs (/dev/shm: fsync and rename cost no disk) run side by side; each
   round sends --messages messages of --size bytes over --sessions parallel
   sessions with smtp-source (connections reused, -d, and one connection per
   message) to each, interleaved; the medians of msg/s and of the server's
   CPU per 1,000 messages, and the ratio maildir / discard.
2. vsmtpd with the maildir plugin into a real disk (--disk, default
   /var/tmp) under `strace -f -c`: fsync() and fdatasync() calls per
   message, and the msg/s there (strace slows it: for the fsync count only).

Every delivered file is counted in new/ after each run, so a lost message
shows. Writes bench/results-maildir.md (--out) and prints the table.

    bench/maildir.py --vsmtpd build-bench/daemon/vsmtpd [--rounds 3]

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import Server, argument_parser, cpu_seconds  # noqa: E402


def log(*a):
    print("maildir-bench:", *a, file=sys.stderr, flush=True)


def start_vsmtpd(args, name, port, plugin, extra=()):
    argv = [args.vsmtpd, "--listen", f"127.0.0.1:{port}", "--hostname",
            "bench.example.org", "--option", f"plugins.enabled={plugin}",
            "--option", "server.max-connections=0",
            "--option", "server.max-connections-per-client=0"]
    for kv in list(extra) + args.vsmtpd_option:
        argv += ["--option", kv]
    return Server(name, argv, port).start(args.workdir)


def smtp_source(port, args, reuse, messages):
    argv = ["smtp-source", "-s", str(args.sessions), "-m", str(messages), "-l", str(args.size),
            "-f", "bench@example.org", "-t", "sink@example.org", "-M", "bench.example.org"]
    if reuse:
        argv.append("-d")
    argv.append(f"127.0.0.1:{port}")
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, timeout=600)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        log("smtp-source failed:", r.stderr.decode(errors="replace")[-300:])
    return dt, r.returncode == 0


def main_thread_cpu(pid):
    """utime+stime of the main thread alone (the sessions' main loop; the
    maildir workers are other threads)"""
    with open(f"/proc/{pid}/task/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:13]) / os.sysconf("SC_CLK_TCK")


def count_new(maildir):
    d = os.path.join(maildir, "new")
    return len(os.listdir(d)) if os.path.isdir(d) else 0


def empty_maildir(maildir):
    for sub in ("new", "tmp", "cur"):
        d = os.path.join(maildir, sub)
        if os.path.isdir(d):
            for name in os.listdir(d):
                os.unlink(os.path.join(d, name))


def tmpfs_runs(args):
    maildir = os.path.join(args.tmpfs, "vsmtpd-bench-maildir")
    shutil.rmtree(maildir, ignore_errors=True)
    p = args.port_base
    procs = {"discard": start_vsmtpd(args, "discard", p, "discard"),
             "maildir": start_vsmtpd(args, "maildir", p + 1, "maildir",
                                     [f"maildir.path={maildir}"])}
    ports = {"discard": p, "maildir": p + 1}
    maildirs = {"maildir": maildir}
    if args.baseline_plugins:
        # another build of the maildir plugin, found first in plugins.path
        maildirs["baseline"] = maildir + "-baseline"
        shutil.rmtree(maildirs["baseline"], ignore_errors=True)
        procs["baseline"] = start_vsmtpd(args, "baseline", p + 3, "maildir",
                                         [f"maildir.path={maildirs['baseline']}",
                                          f"plugins.path={args.baseline_plugins}"])
        ports["baseline"] = p + 3
    samples = {}
    main_samples = {}
    lost = 0
    try:
        for name in procs:   # warm-up
            smtp_source(ports[name], args, True, 500)
        for d in maildirs.values():
            empty_maildir(d)
        for rnd in range(args.rounds):
            for load in ("reuse", "new"):
                order = list(procs)
                order = order[rnd % len(order):] + order[:rnd % len(order)]
                for name in order:
                    pid = procs[name].pid
                    c0, m0 = cpu_seconds(pid), main_thread_cpu(pid)
                    dt, ok = smtp_source(ports[name], args, load == "reuse", args.messages)
                    cpu = cpu_seconds(pid) - c0
                    main_cpu = main_thread_cpu(pid) - m0
                    if name in maildirs:
                        n = count_new(maildirs[name])
                        if n != args.messages:
                            lost += args.messages - n
                            log(f"{name}: {n} files in new/ for {args.messages} messages")
                        empty_maildir(maildirs[name])
                    rate = args.messages / dt if ok else 0
                    samples.setdefault((name, load), []).append((rate, 1000 * cpu / args.messages))
                    main_samples.setdefault((name, load), []).append(1000 * main_cpu / args.messages)
                    log(f"round {rnd + 1} {load:5s} {name:8s} {rate:8.0f} msg/s, "
                        f"{1000 * cpu / args.messages:.3f} s CPU / 1,000 msgs")
    finally:
        for proc in procs.values():
            proc.stop()
        for d in maildirs.values():
            shutil.rmtree(d, ignore_errors=True)
    return ({k: (statistics.median(r for r, _ in v), statistics.median(c for _, c in v),
                 statistics.median(main_samples[k]))
             for k, v in samples.items()}, lost)


def disk_run(args):
    maildir = os.path.join(args.disk, "vsmtpd-bench-maildir")
    shutil.rmtree(maildir, ignore_errors=True)
    trace = os.path.join(args.workdir, "strace-maildir.txt")
    port = args.port_base + 2
    proc = start_vsmtpd(args, "maildir-disk", port, "maildir", [f"maildir.path={maildir}"])
    tids = os.listdir(f"/proc/{proc.pid}/task")
    tracer = subprocess.Popen(["strace", "-f", "-c", "-o", trace,
                               "-e", "trace=fsync,fdatasync,syncfs,sync_file_range",
                               *sum((["-p", t] for t in tids), [])],
                              stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    try:
        dt, ok = smtp_source(port, args, True, args.disk_messages)
        delivered = count_new(maildir)
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=30)
        proc.stop()
        shutil.rmtree(maildir, ignore_errors=True)
    calls = {}
    with open(trace) as f:
        for line in f:
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
            if m and m.group(2) != "total":
                calls[m.group(2)] = int(m.group(1))
    return {"rate": args.disk_messages / dt if ok else 0, "delivered": delivered,
            "calls": calls, "fs": fs_type(args.disk)}


def fs_type(path):
    r = subprocess.run(["df", "--output=fstype,source", path], capture_output=True)
    return " ".join(r.stdout.decode().splitlines()[-1].split())


def main():
    p = argument_parser(__doc__, HERE)
    p.add_argument("--messages", type=int, default=10000)
    p.add_argument("--disk-messages", type=int, default=2000)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("--tmpfs", default="/dev/shm")
    p.add_argument("--disk", default="/var/tmp")
    p.add_argument("--skip-disk", action="store_true")
    p.add_argument("--port-base", type=int, default=32540)
    p.add_argument("--vsmtpd-option", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="an extra --option for both vsmtpd (repeatable)")
    p.add_argument("--workdir", default=os.environ.get("BENCH_WORKDIR", "/tmp/vsmtpd-bench-maildir"))
    p.add_argument("--out", default=os.path.join(HERE, "results-maildir.md"))
    p.add_argument("--baseline-plugins", metavar="DIR",
                   help="a plugins.path holding maildir/ (libmaildir.so, maildir.plugin) of another "
                        "build: a third server, interleaved with the others, for a before/after")
    p.add_argument("--label", default="")
    args = p.parse_args()
    os.makedirs(args.workdir, exist_ok=True)

    medians, lost = tmpfs_runs(args)
    disk = None if args.skip_disk else disk_run(args)

    out = [f"### {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} {args.label}".rstrip(), "",
           f"{os.cpu_count()} CPUs, {platform.release()}; {args.messages:,} messages of "
           f"{args.size:,} bytes over {args.sessions} sessions (smtp-source), median of "
           f"{args.rounds} rounds, maildir in {args.tmpfs} ({fs_type(args.tmpfs)}); messages "
           f"missing from new/: {lost}.", "",
           "| load | discard msg/s | maildir msg/s | ratio | CPU s / 1,000 msgs discard | maildir |",
           "|---|---|---|---|---|---|"]
    for load, what in (("reuse", "connections reused"), ("new", "new connection per message")):
        d, m = medians.get(("discard", load)), medians.get(("maildir", load))
        if d and m:
            out.append(f"| {what} | {d[0]:,.0f} | {m[0]:,.0f} | {m[0] / d[0]:.2f}× | "
                       f"{d[1]:.3f} | {m[1]:.3f} |")
        b = medians.get(("baseline", load))
        if d and b:
            out.append(f"| {what}, baseline build | {d[0]:,.0f} | {b[0]:,.0f} | {b[0] / d[0]:.2f}× | "
                       f"{d[1]:.3f} | {b[1]:.3f} |")
    out += ["", "Main thread alone (the sessions; the maildir workers are other threads), CPU s "
            "per 1,000 msgs: " + "; ".join(
                f"{load} {name} {medians[(name, load)][2]:.3f}"
                for load in ("reuse", "new") for name in ("discard", "maildir", "baseline")
                if (name, load) in medians) + "."]
    if disk:
        calls = disk["calls"]
        n = args.disk_messages
        per = ", ".join(f"{k} {v / n:.2f}" for k, v in sorted(calls.items())) or "none"
        out += ["", f"Real disk ({args.disk}: {disk['fs']}), {n:,} messages, connections reused, "
                f"under strace -f -c: {disk['delivered']:,} files in new/; calls per message: "
                f"{per}; {disk['rate']:,.0f} msg/s under strace."]
    print("\n".join(out))
    if args.out:
        with open(args.out, "a") as f:
            f.write("\n".join(out) + "\n\n")


if __name__ == "__main__":
    main()
