#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The PROXY protocol header as handlers see it, through GObject
Introspection: a Vsmtp.Server in this process listens with proxy-protocol
v2 (and v1); a client thread sends a header with TLVs (ALPN, authority,
unique id, SSL with its sub-TLVs, a custom one) before its SMTP session.
The handlers read Vsmtp.Session.get_proxy_header() and the session's remote
address, which is the header's source.

Needs GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing at the built library
(meson sets them). Prints TAP.
"""

import os
import socket
import struct
import sys

import gi
gi.require_version("Vsmtp", "1.0")
from gi.repository import Gio, GLib, Vsmtp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import vsmtpd_fixture as fx  # noqa: E402  (TAP output)
from test_python import GUARD_SECONDS, ServerTestCase  # noqa: E402

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def tlv(kind, value):
    return bytes([kind]) + struct.pack(">H", len(value)) + value


def v2_header(tlvs):
    body = (socket.inet_aton("192.0.2.7") + socket.inet_aton("198.51.100.1") +
            struct.pack(">HH", 40000, 587) + tlvs)
    return SIGNATURE + b"\x21\x11" + struct.pack(">H", len(body)) + body


def session_over(port, header):
    """Header, then greeting, EHLO, MAIL, RCPT, QUIT: the replies' codes"""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(GUARD_SECONDS)
    f = s.makefile("rb")
    s.sendall(header)
    codes = [f.readline()[:3]]
    for command in (b"EHLO client.example", b"MAIL FROM:<a@example.org>",
                    b"RCPT TO:<b@example.org>", b"QUIT"):
        s.sendall(command + b"\r\n")
        while True:
            line = f.readline()
            if line[3:4] != b"-":
                break
        codes.append(line[:3])
    s.close()
    return codes


class ProxyHeaderTest(ServerTestCase):

    def listen(self, version):
        options = Vsmtp.ListenOptions(name="behind-haproxy", proxy_protocol=version)
        self.assertTrue(options.set_proxy_trusted(["127.0.0.1"]))
        ok, address = self.server.listen_with_options(
            Gio.InetSocketAddress.new_from_string("127.0.0.1", 0), options)
        self.assertTrue(ok)
        return address.get_port()

    def test_v2_tlvs_reach_the_handlers(self):
        seen = {}

        def on_rcpt(test, session, recipient, parameters):
            header = session.get_proxy_header()
            seen["ip"] = session.get_remote_ip()
            remote = session.get_remote_address()
            seen["port"] = remote.get_port()
            seen["version"] = header.get_version()
            seen["local"] = header.is_local()
            destination = header.get_destination_address()
            seen["destination"] = (destination.get_address().to_string(),
                                   destination.get_port())
            seen["peer"] = header.get_peer_address().get_address().to_string()
            seen["alpn"] = header.get_alpn()
            seen["authority"] = header.get_authority()
            seen["unique_id"] = header.get_unique_id().get_data()
            seen["ssl"] = header.has_ssl()
            seen["ssl_flags"] = header.get_ssl_flags()
            seen["ssl_verify"] = header.get_ssl_verify()
            seen["ssl_version"] = header.get_ssl_version()
            seen["ssl_cn"] = header.get_ssl_cn()
            seen["ssl_cipher"] = header.get_ssl_cipher()
            seen["custom"] = header.get_tlv(0xE0).get_data()
            return Vsmtp.Reply.new(250, "2.1.5", f"hello {seen['ip']}")

        self.handlers = {"rcpt-to": on_rcpt}
        port = self.listen(Vsmtp.ProxyProtocol.V2)
        ssl = (b"\x03" + struct.pack(">I", 0) + tlv(0x21, b"TLSv1.3") +
               tlv(0x22, b"client.example") + tlv(0x23, b"TLS_AES_128_GCM_SHA256"))
        tlvs = (tlv(0x01, b"smtp") + tlv(0x02, b"mx.example.org") +
                tlv(0x05, b"\x00id-1\xff") + tlv(0x20, ssl) + tlv(0xE0, b"custom"))
        codes = self.run_client(lambda: session_over(port, v2_header(tlvs)))
        self.assertEqual(codes, [b"220", b"250", b"250", b"250", b"221"])
        self.assertEqual(self.handler_errors, [])
        self.assertEqual(seen, {
            "ip": "192.0.2.7", "port": 40000, "version": 2, "local": False,
            "destination": ("198.51.100.1", 587), "peer": "127.0.0.1",
            "alpn": "smtp", "authority": "mx.example.org", "unique_id": b"\x00id-1\xff",
            "ssl": True,
            "ssl_flags": Vsmtp.ProxySslFlags.CLIENT_SSL | Vsmtp.ProxySslFlags.CLIENT_CERT_CONN,
            "ssl_verify": 0, "ssl_version": "TLSv1.3", "ssl_cn": "client.example",
            "ssl_cipher": "TLS_AES_128_GCM_SHA256", "custom": b"custom",
        })

    def test_v1_and_no_header(self):
        seen = []
        self.server.connect("new-session", lambda server, session: seen.append(
            (session.get_remote_ip(), session.get_proxy_header().get_version(),
             session.get_proxy_header().get_alpn())))
        port = self.listen(Vsmtp.ProxyProtocol.ANY)
        header = b"PROXY TCP4 203.0.113.9 198.51.100.1 1234 25\r\n"
        codes = self.run_client(lambda: session_over(port, header))
        self.assertEqual(codes[0], b"220")
        self.assertEqual(seen, [("203.0.113.9", 1, None)])
        # the server's other listener takes no header: no proxy header there
        plain = []
        self.server.connect("new-session",
                            lambda server, session: plain.append(session.get_proxy_header()))
        self.run_client(lambda: session_over(self.port, b""))
        self.assertEqual(plain[-1], None)


if __name__ == "__main__":
    fx.main()
