#!/usr/bin/env python3
"""A hostile client of a ferd endpoint, written from the ZMTP 3.0 specification (rfc.zeromq.org/spec/23) and
docs/PROTOCOL.md with nothing but the standard library: it shares no code with ferd or libzmq.

For `--seconds` it opens connection after connection to HOST:PORT and, chosen at random from a seed, sends raw
garbage, an HTTP request, a ZMTP DEALER that sends random multipart messages (some starting like a ferd frame:
"FERD", the protocol version, a message type), a 4 MiB frame, a frame whose length header lies, well-formed
ferd HEARTBEATs from a peer that never said HELLO, and a ROUTER-to-ROUTER probe. It prints one JSON line with
what it sent. Exit status 0 unless it could never connect.
"""

import argparse
import json
import random
import signal
import socket
import struct
import time

FERD_VERSION = 3
HEARTBEAT = 4


def greeting():
    # signature (10), version 3.0, mechanism NULL (20), as-server 0, filler (31)
    return b"\xff" + b"\x00" * 8 + b"\x7f" + bytes([3, 0]) + b"NULL".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31


def command(name, properties):
    body = bytes([len(name)]) + name
    for key, value in properties.items():
        body += bytes([len(key)]) + key + struct.pack(">I", len(value)) + value
    return frame(body, command=True)


def frame(body, more=False, command=False):
    flags = (0x01 if more else 0) | (0x04 if command else 0)
    if len(body) > 255:
        return bytes([flags | 0x02]) + struct.pack(">Q", len(body)) + body
    return bytes([flags, len(body)]) + body


def message(frames):
    return b"".join(frame(body, more=index < len(frames) - 1) for index, body in enumerate(frames))


def ferd_frame(kind, body, version=FERD_VERSION):
    return b"FERD" + struct.pack("<HBBI", version, kind, 0, len(body)) + body


class Abuser:
    def __init__(self, host, port, seed):
        self.host, self.port = host, port
        self.random = random.Random(seed)
        self.sent = {}
        self.connections = 0

    def connect(self):
        sock = socket.create_connection((self.host, self.port), timeout=2)
        self.connections += 1
        return sock

    def count(self, kind, n=1):
        self.sent[kind] = self.sent.get(kind, 0) + n

    def zmtp(self, socket_type=b"DEALER", identity=None):
        sock = self.connect()
        sock.sendall(greeting())
        properties = {b"Socket-Type": socket_type}
        if identity is not None:
            properties[b"Identity"] = identity
        sock.sendall(command(b"READY", properties))
        return sock

    def noise(self, low=0, high=512):
        return bytes(self.random.getrandbits(8) for _ in range(self.random.randint(low, high)))

    def raw_garbage(self):
        with self.connect() as sock:
            sock.sendall(self.noise(1, 4096))
        self.count("raw garbage")

    def http(self):
        with self.connect() as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: ferd\r\n\r\n")
        self.count("http request")

    def random_messages(self):
        with self.zmtp(identity=self.noise(1, 16) if self.random.random() < 0.5 else None) as sock:
            batch = b""
            for _ in range(self.random.randint(20, 200)):
                frames = [self.noise(0, 64) for _ in range(self.random.randint(1, 4))]
                if self.random.random() < 0.5:
                    frames[0] = ferd_frame(self.random.randint(0, 14), self.noise(0, 48),
                                           version=self.random.choice([FERD_VERSION, 1, 2, 99]))
                batch += message(frames)
                self.count("random multipart message")
            sock.sendall(batch)
            time.sleep(0.01)

    def huge_frame(self):
        with self.zmtp() as sock:
            sock.sendall(message([ferd_frame(10, b"\x00" * (4 << 20))]))
            self.count("4 MiB frame")

    def lying_length(self):
        with self.zmtp() as sock:
            sock.sendall(bytes([0x02]) + struct.pack(">Q", 1 << 40) + self.noise(10, 100))
            self.count("frame with a lying length")

    def stranger_heartbeats(self):
        with self.zmtp(identity=b"stranger-%d" % self.random.randint(0, 3)) as sock:
            batch = b""
            for sequence in range(self.random.randint(10, 60)):
                batch += message([ferd_frame(HEARTBEAT, struct.pack("<Qd", sequence, time.time()))])
                self.count("heartbeat without hello")
            sock.sendall(batch)
            time.sleep(0.01)

    def router_probe(self):
        with self.zmtp(socket_type=b"ROUTER") as sock:
            sock.sendall(message([b"probe", b"hello?"]))
            self.count("router-to-router probe")

    def run(self, seconds):
        actions = [self.raw_garbage, self.http, self.random_messages, self.random_messages, self.random_messages,
                   self.huge_frame, self.lying_length, self.stranger_heartbeats, self.router_probe]
        failures = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                self.random.choice(actions)()
            except OSError:
                failures += 1
                time.sleep(0.05)
        return failures


def stop(signum, frame):
    raise KeyboardInterrupt


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="tcp://HOST:PORT")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    host, port = args.endpoint.removeprefix("tcp://").rsplit(":", 1)
    abuser = Abuser(host, int(port), args.seed)
    signal.signal(signal.SIGTERM, stop)
    failures = 0
    try:
        failures = abuser.run(args.seconds)
    except KeyboardInterrupt:
        pass
    print(json.dumps({"connections": abuser.connections, "sent": abuser.sent, "failed_connections": failures,
                      "messages": sum(abuser.sent.values())}))
    return 0 if abuser.connections > 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
