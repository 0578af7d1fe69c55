#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/connections.py: what [redis] share=connections costs a connection.

One client opens CONNECTIONS connections one after the other (connect,
greeting, QUIT, close) to vsmtpd with max-connections-per-client counted
in the process, in the in-process store (share=connections without url),
and in a private redis-server over loopback (a lease taken before the
greeting and given back at the close); the best of ROUNDS runs of each
is printed, in microseconds per connection.

    bench/connections.py VSMTPD [--connections 400] [--rounds 3]
"""

import argparse
import os
import shutil
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("vsmtpd")
    parser.add_argument("--connections", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ["VSMTPD"] = os.path.abspath(args.vsmtpd)
    import vsmtpd_fixture as fx
    from test_redis import Redis

    def run(config):
        d = fx.Vsmtpd(server="max-connections-per-client=50\n", config=config)
        d.start()
        try:
            start = time.monotonic()
            for _ in range(args.connections):
                with socket.create_connection(("127.0.0.1", d.port)) as s:
                    f = s.makefile("rb")
                    assert f.readline().startswith(b"220 ")
                    s.sendall(b"QUIT\r\n")
                    f.readline()
            return (time.monotonic() - start) / args.connections * 1e6
        finally:
            d.cleanup()

    tmp = tempfile.mkdtemp(prefix="bench-connections-")
    redis = Redis(tmp)
    redis.start()
    try:
        print("| count kept | µs per connection (best) | runs |")
        print("|---|---:|---|")
        for label, config in (("in process (no share)", ""),
                              ("in-process store (share=connections)",
                               "[redis]\nshare=connections\n"),
                              ("Redis (share=connections)",
                               f"[redis]\nurl=redis://127.0.0.1:{redis.port}\n"
                               "share=connections\n")):
            runs = [run(config) for _ in range(args.rounds)]
            print(f"| {label} | {min(runs):.0f} | {' / '.join(f'{r:.0f}' for r in runs)} |")
    finally:
        redis.kill()
        shutil.rmtree(tmp, True)


if __name__ == "__main__":
    main()
