#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/store.py: what the ratelimit plugin costs on each store backend.

Three vsmtpd, each with the discard plugin: alone, with ratelimit
(per=client-address, a limit never reached) on the in-process store, and
with ratelimit on a private redis-server over loopback. Postfix's
smtp-source sends MESSAGES messages of 2 KiB over SESSIONS parallel
sessions that keep their connection (-d); the rounds are interleaved and
the median rate of each is printed as a Markdown table.

    bench/store.py VSMTPD [--messages 4000] [--sessions 20] [--rounds 3]
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc):
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited")
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def start_vsmtpd(vsmtpd, tmp, name, config):
    port = free_port()
    path = os.path.join(tmp, name + ".conf")
    with open(path, "w", encoding="utf-8") as f:
        f.write("[server]\nhostname=bench.example.org\nmax-connections=0\n"
                "max-connections-per-client=0\n" + config)
    log = open(os.path.join(tmp, name + ".log"), "wb")
    env = {**os.environ, "HOME": tmp}
    proc = subprocess.Popen([vsmtpd, "--config", path, "--listen", f"127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp)
    wait_port(port, proc)
    return proc, port


def run(port, messages, sessions):
    start = time.monotonic()
    subprocess.run([SMTP_SOURCE, "-s", str(sessions), "-m", str(messages), "-l", "2048",
                    "-d", "-f", "sender@client.example", "-t", "rcpt@example.org",
                    f"127.0.0.1:{port}"], check=True, stdout=subprocess.DEVNULL)
    return messages / (time.monotonic() - start)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("vsmtpd")
    p.add_argument("--messages", type=int, default=4000)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    args.vsmtpd = os.path.abspath(args.vsmtpd)

    tmp = tempfile.mkdtemp(prefix="vsmtpd-bench-store-")
    procs = []
    try:
        redis_port = free_port()
        redis = subprocess.Popen([REDIS, "--port", str(redis_port), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no", "--dir", tmp],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(redis)
        wait_port(redis_port, redis)
        ratelimit = ("[plugins]\nenabled=ratelimit;discard\n"
                     "[ratelimit]\nmessages=100000000\ninterval=60\nper=client-address\n")
        servers = {
            "discard": start_vsmtpd(args.vsmtpd, tmp, "discard",
                                    "[plugins]\nenabled=discard\n"),
            "ratelimit, in-process store": start_vsmtpd(args.vsmtpd, tmp, "memory", ratelimit),
            "ratelimit, Redis store": start_vsmtpd(
                args.vsmtpd, tmp, "redis",
                ratelimit + f"[redis]\nurl=redis://127.0.0.1:{redis_port}\n"),
        }
        procs += [proc for proc, _ in servers.values()]
        rates = {name: [] for name in servers}
        for _ in range(args.rounds):
            for name, (_, port) in servers.items():
                rates[name].append(run(port, args.messages, args.sessions))

        # every transaction of the Redis server counted there
        with socket.create_connection(("127.0.0.1", redis_port), 5) as s:
            s.sendall(b"ZCARD vsmtp:ratelimit:client-address:127.0.0.1\r\n")
            counted = int(s.recv(64).strip()[1:])
        if counted != args.rounds * args.messages:
            raise RuntimeError(f"Redis counted {counted} transactions, not "
                               f"{args.rounds * args.messages}")

        base = statistics.median(rates["ratelimit, in-process store"])
        print(f"| server | msg/s (median of {args.rounds}) | runs | ms per message "
              "| time per message vs in-process store |")
        print("|---|---:|---|---:|---:|")
        for name, values in rates.items():
            median = statistics.median(values)
            print(f"| {name} | {median:.0f} | {' / '.join(f'{v:.0f}' for v in values)} "
                  f"| {1000 * args.sessions / median:.1f} | {100 * (base / median - 1):+.1f}% |")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
