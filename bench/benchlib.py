"""bench/benchlib.py: what bench/tls.py and bench/maildir.py share: waiting
for a port, a server process started and stopped, its CPU time and memory
from /proc.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import signal
import socket
import subprocess
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime+stime of the process and of its waited-for children"""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / TICK


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_port(port, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Server:
    """A server process, its output in WORKDIR/NAME.log, ready once every
    one of its ports accepts."""

    def __init__(self, name, argv, *ports):
        self.name, self.argv, self.ports = name, argv, ports
        self.port = ports[0]
        self.tls_port = ports[-1]
        self.proc = None
        self.log = None

    @property
    def pid(self):
        return self.proc.pid

    def start(self, workdir):
        self.log = open(os.path.join(workdir, f"{self.name}.log"), "ab")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        if not all(wait_port(p) for p in self.ports):
            self.stop()
            raise RuntimeError(f"{self.name} did not start, see {workdir}/{self.name}.log")
        return self

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.log:
            self.log.close()
            self.log = None


def argument_parser(doc, bench_dir):
    """The options every script takes: --vsmtpd (default: the release
    build run.sh makes) and --rounds."""
    import argparse
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--vsmtpd", default=os.path.join(os.path.dirname(bench_dir), "build-bench",
                                                    "daemon", "vsmtpd"))
    p.add_argument("--rounds", type=int, default=3)
    return p
