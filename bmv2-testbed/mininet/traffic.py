"""Side traffic of a scenario, run inside Mininet hosts by the runner.

    traffic.py flood --dst IP --port N --rate PPS --size BYTES [--class best_effort|payment_data]
                     --seconds S --count-file FILE
    traffic.py stream-send --dst IP --port N --interval-ms MS --seconds S
    traffic.py stream-recv --bind IP --port N --seconds S --out FILE

A flood sends UDP datagrams at a steady rate until SIGTERM or its time is up, then writes how
many it sent. A payment-data flood starts each datagram with an FMH header of type
PAYMENT_DATA (8), so the pipeline classifies it as class 1. The stream sends a numbered datagram
every interval carrying its send time (Unix ms); the receiver writes every arrival as
`[seq, sent_unix_ms, arrived_unix_ms]`, from which the runner times a reroute.
"""

import argparse
import json
import signal
import socket
import struct
import sys
import time

STOP = False


def _stop(*_):
    global STOP
    STOP = True


def payload(size, klass):
    size = max(size, 32)
    p = bytearray(b"\x5a" * size)
    if klass == "payment_data":
        p[:32] = bytes(32)
        p[0] = 1
        p[1] = 8
        p[8:16] = b"fm-flood"
        p[24] = 16
        p[25] = 16
    return bytes(p)


def flood(a):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    data = payload(a.size, a.klass)
    sent = 0
    start = time.monotonic()
    end = start + a.seconds
    while not STOP and time.monotonic() < end:
        due = int((time.monotonic() - start) * a.rate)
        while sent < due and not STOP:
            try:
                sock.sendto(data, (a.dst, a.port))
            except OSError:
                pass
            sent += 1
        time.sleep(0.002)
    with open(a.count_file, "w") as f:
        f.write("%d\n" % sent)


def stream_send(a):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.monotonic()
    seq = 0
    interval = a.interval_ms / 1000.0
    while not STOP and time.monotonic() - start < a.seconds:
        due = start + seq * interval
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        try:
            sock.sendto(struct.pack("!Qd", seq, time.time() * 1000.0), (a.dst, a.port))
        except OSError:
            pass
        seq += 1


def stream_recv(a):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((a.bind, a.port))
    sock.settimeout(0.1)
    arrivals = []
    end = time.monotonic() + a.seconds
    while not STOP and time.monotonic() < end:
        try:
            data, _ = sock.recvfrom(64)
        except socket.timeout:
            continue
        if len(data) >= 16:
            seq, sent = struct.unpack("!Qd", data[:16])
            arrivals.append([seq, sent, time.time() * 1000.0])
    with open(a.out, "w") as f:
        json.dump(arrivals, f)


def main():
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("flood")
    f.add_argument("--dst", required=True)
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--rate", type=float, required=True)
    f.add_argument("--size", type=int, default=200)
    f.add_argument("--class", dest="klass", default="best_effort")
    f.add_argument("--seconds", type=float, default=3600)
    f.add_argument("--count-file", required=True)
    s = sub.add_parser("stream-send")
    s.add_argument("--dst", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--interval-ms", type=float, default=1.0)
    s.add_argument("--seconds", type=float, default=4.0)
    r = sub.add_parser("stream-recv")
    r.add_argument("--bind", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--seconds", type=float, default=5.0)
    r.add_argument("--out", required=True)
    a = p.parse_args()
    {"flood": flood, "stream-send": stream_send, "stream-recv": stream_recv}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
