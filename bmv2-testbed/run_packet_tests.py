#!/usr/bin/env python3
"""Run Flash-Mesh packet tests (p4src/tests/*.pkt) on BMv2 simple_switch_grpc.

For each test file this script starts a fresh `simple_switch_grpc --priority-queues 8` on veth
pairs, pushes the program over P4Runtime with p4runtime-shell, replays the file's steps (table
writes, frames sent with scapy, packet-outs), and compares what comes out of the ports and the
PacketIn stream, and the counters, with the file's expectations.

The file format is documented in p4src/tests/README.md; this parser follows the same rules as
the Rust one in tests/src/ (`--dump` prints the parsed steps as JSON so the two can be compared
without BMv2).

Needs root (veth pairs, raw sockets), p4c-bm2-ss, simple_switch_grpc, and the Python packages
p4runtime-shell and scapy. See bmv2-testbed/README.md.
"""

import argparse
import glob
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# --------------------------------------------------------------------------------------------
# Packet builder (same layers, fields and defaults as tests/src/packet.rs)
# --------------------------------------------------------------------------------------------

LAYER_FIELDS = {
    "eth": [("dst", 48), ("src", 48), ("type", 16)],
    "ipv4": [("version", 4), ("ihl", 4), ("tos", 8), ("len", 16), ("id", 16), ("flags", 3),
             ("frag", 13), ("ttl", 8), ("proto", 8), ("chksum", 16), ("src", 32), ("dst", 32),
             ("options", 0)],
    "udp": [("sport", 16), ("dport", 16), ("len", 16), ("chksum", 16)],
    "fmh": [("version", 8), ("msg_type", 8), ("retry", 8), ("flags", 8), ("epoch", 32),
            ("sender", 64), ("nonce", 64), ("ttl", 8), ("hop_limit", 8), ("body_len", 16),
            ("reserved", 32)],
    "raw": [("hex", 0), ("len", 32)],
}

MSG_TYPE_NAMES = {
    "ORDER": 1, "VOTE": 2, "CERTIFICATE": 3, "RECEIPT": 4, "QUERY": 5, "QUERY_REPLY": 6,
    "HANDOFF": 7, "PAYMENT_DATA": 8, "PROBE": 9, "ERROR": 10,
}


class TestFormatError(Exception):
    """A problem in a test file (the message starts with file:line)."""


class BuildError(Exception):
    """A packet description that cannot be built."""


def parse_number(text):
    """Decimal, 0x hex, MAC or dotted quad; None when it is none of these."""
    t = text.strip()
    try:
        if t[:2] in ("0x", "0X"):
            return int(t[2:].replace("_", ""), 16)
        if ":" in t:
            parts = t.split(":")
            if len(parts) != 6 or any(len(p) == 0 or len(p) > 2 for p in parts):
                return None
            acc = 0
            for p in parts:
                acc = (acc << 8) | int(p, 16)
            return acc
        if "." in t:
            return int(ipaddress.IPv4Address(t))
        if not t.isdigit():
            return None
        return int(t)
    except ValueError:
        return None


def parse_hex(text):
    t = text.strip()
    if t.startswith("0x"):
        t = t[2:]
    t = t.replace("_", "")
    if len(t) % 2 != 0 or not re.fullmatch(r"[0-9a-fA-F]*", t):
        return None
    return bytes.fromhex(t)


def internet_checksum(data):
    s = 0
    for i in range(0, len(data), 2):
        word = data[i] << 8 | (data[i + 1] if i + 1 < len(data) else 0)
        s += word
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class Layer:
    def __init__(self, kind, fields):
        if kind not in LAYER_FIELDS:
            raise BuildError("unknown layer %r (known: eth, ipv4, udp, fmh, raw)" % kind)
        self.kind = kind
        self.fields = []
        for k, v in fields:
            self.set(k, v)

    def copy(self):
        l = Layer(self.kind, [])
        l.fields = list(self.fields)
        return l

    def set(self, field, value):
        if field not in dict(LAYER_FIELDS[self.kind]):
            raise BuildError("layer %s has no field %r" % (self.kind, field))
        self.fields = [(k, v) for k, v in self.fields if k != field]
        self.fields.append((field, value))

    def text(self, field):
        for k, v in reversed(self.fields):
            if k == field:
                return v
        return None

    def num(self, field, default=None):
        text = self.text(field)
        if text is None:
            return default
        width = dict(LAYER_FIELDS[self.kind])[field]
        if self.kind == "fmh" and field == "msg_type" and text in MSG_TYPE_NAMES:
            v = MSG_TYPE_NAMES[text]
        else:
            v = parse_number(text)
        if v is None:
            raise BuildError("%s.%s: cannot read value %r" % (self.kind, field, text))
        if v >> width != 0:
            raise BuildError("%s.%s: value %r does not fit in %d bits"
                             % (self.kind, field, text, width))
        return v

    def bytes_field(self, field):
        text = self.text(field)
        if text is None:
            return b""
        b = parse_hex(text)
        if b is None:
            raise BuildError("%s.%s: cannot read value %r" % (self.kind, field, text))
        return b


def _be(v, n):
    return int(v).to_bytes(n, "big")


def build(layers, ip=None):
    """The frame that `layers` describe (computed lengths and checksums filled in)."""
    if not layers:
        return b""
    layer, rest = layers[0], layers[1:]
    nxt = rest[0].kind if rest else None
    if layer.kind == "eth":
        ty = layer.num("type")
        if ty is None:
            if nxt != "ipv4":
                raise BuildError("eth.type must be given here")
            ty = 0x0800
        return (_be(layer.num("dst", 0), 6) + _be(layer.num("src", 0), 6) + _be(ty, 2)
                + build(rest))
    if layer.kind == "ipv4":
        options = layer.bytes_field("options")
        src = layer.num("src", 0)
        dst = layer.num("dst", 0)
        body = build(rest, (src, dst))
        ihl = layer.num("ihl", 5 + (len(options) + 3) // 4)
        total = 20 + len(options) + len(body)
        length = layer.num("len")
        if length is None:
            if total > 0xFFFF:
                raise BuildError("ipv4 length overflows its field")
            length = total
        proto = layer.num("proto")
        if proto is None:
            if nxt != "udp":
                raise BuildError("ipv4.proto must be given here")
            proto = 17
        hdr = bytearray()
        hdr += bytes([(layer.num("version", 4) << 4) | ihl])
        hdr += _be(layer.num("tos", 0), 1) + _be(length, 2) + _be(layer.num("id", 0), 2)
        hdr += _be((layer.num("flags", 0) << 13) | layer.num("frag", 0), 2)
        hdr += _be(layer.num("ttl", 64), 1) + _be(proto, 1) + b"\x00\x00"
        hdr += _be(src, 4) + _be(dst, 4) + options
        ck = layer.num("chksum")
        if ck is None:
            ck = internet_checksum(bytes(hdr))
        hdr[10:12] = _be(ck, 2)
        return bytes(hdr) + body
    if layer.kind == "udp":
        body = build(rest)
        length = layer.num("len")
        if length is None:
            if 8 + len(body) > 0xFFFF:
                raise BuildError("udp length overflows its field")
            length = 8 + len(body)
        seg = bytearray(_be(layer.num("sport", 47474), 2) + _be(layer.num("dport", 47474), 2)
                        + _be(length, 2) + b"\x00\x00" + body)
        ck = layer.num("chksum")
        if ck is None:
            if ip is None:
                ck = 0
            else:
                pseudo = _be(ip[0], 4) + _be(ip[1], 4) + b"\x00\x11" + _be(len(seg), 2) + bytes(seg)
                ck = internet_checksum(pseudo) or 0xFFFF
        seg[6:8] = _be(ck, 2)
        return bytes(seg)
    if layer.kind == "fmh":
        body = build(rest)
        body_len = layer.num("body_len")
        if body_len is None:
            if len(body) > 0xFFFF:
                raise BuildError("fmh body length overflows its field")
            body_len = len(body)
        msg_type = layer.num("msg_type")
        if msg_type is None:
            raise BuildError("fmh.msg_type must be given here")
        return (_be(layer.num("version", 1), 1) + _be(msg_type, 1)
                + _be(layer.num("retry", 0), 1) + _be(layer.num("flags", 0), 1)
                + _be(layer.num("epoch", 0), 4) + _be(layer.num("sender", 0), 8)
                + _be(layer.num("nonce", 0), 8) + _be(layer.num("ttl", 1), 1)
                + _be(layer.num("hop_limit", 16), 1) + _be(body_len, 2)
                + _be(layer.num("reserved", 0), 4) + body)
    # raw
    n = layer.num("len", 0)
    return layer.bytes_field("hex") + bytes(i % 256 for i in range(n)) + build(rest)


# --------------------------------------------------------------------------------------------
# Test file parser (same statements and rules as tests/src/pkt_test.rs)
# --------------------------------------------------------------------------------------------

def logical_lines(text):
    out = []
    pending = None
    for i, raw in enumerate(text.splitlines()):
        line = raw.split("#", 1)[0].strip()
        cont = line.endswith("\\")
        body = line[:-1].rstrip() if cont else line
        if pending is None:
            pending = [i + 1, ""]
        if body:
            pending[1] = (pending[1] + " " + body) if pending[1] else body
        if not cont:
            if pending[1]:
                out.append((pending[0], pending[1]))
            pending = None
    if pending is not None and pending[1]:
        out.append((pending[0], pending[1]))
    return out


def split_word(s):
    s = s.lstrip()
    m = re.search(r"\s", s)
    if m is None:
        return s, ""
    return s[:m.start()], s[m.start():]


def split_top(s, sep):
    out, depth, cur = [], 0, ""
    for c in s:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == sep and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += c
    out.append(cur)
    return out


def split_args(s):
    return [a for a in ("".join(p.split()) for p in s.split(",")) if a]


class Parser:
    def __init__(self, name):
        self.name = name
        self.templates = {}
        self.steps = []

    def err(self, line, msg):
        return TestFormatError("%s:%d: %s" % (self.name, line, msg))

    def check_last(self):
        if self.steps and self.steps[-1]["kind"] in ("send", "packet_out") \
                and not self.steps[-1]["expect"]:
            raise self.err(self.steps[-1]["line"],
                           "a send needs at least one `expect` line after it")

    def pair(self, line, tok):
        if "=" not in tok:
            raise self.err(line, "expected name=value, got %r" % tok)
        k, v = tok.split("=", 1)
        if not k or not v:
            raise self.err(line, "expected name=value, got %r" % tok)
        return [k, v]

    def int_(self, line, s):
        v = parse_number(s)
        if v is None or v >= 1 << 64:
            raise self.err(line, "bad number %r" % s)
        return v

    def port(self, line, s):
        v = self.int_(line, s)
        if v >= 512:
            raise self.err(line, "bad port %r" % s)
        return v

    def table_and_pairs(self, line, text):
        toks = text.split()
        if not toks:
            raise self.err(line, "missing table name")
        return toks[0], [self.pair(line, t) for t in toks[1:]]

    def priority_int(self, line, s):
        try:
            return int(s)
        except ValueError:
            raise self.err(line, "bad priority")

    def action(self, line, text):
        text = text.strip()
        opn = text.find("(")
        if opn < 0:
            raise self.err(line, "expected ACTION(...)")
        close = text.rfind(")")
        if close <= opn:
            raise self.err(line, "missing `)` after the action parameters")
        action = text[:opn].strip()
        params = [self.pair(line, a) for a in split_args(text[opn + 1:close])]
        tail = text[close + 1:].split()
        if not tail:
            priority = None
        elif len(tail) == 2 and tail[0] == "priority":
            priority = self.priority_int(line, tail[1])
        else:
            raise self.err(line, "unexpected %r" % text[close + 1:])
        return action, params, priority

    def attrs(self, line, text):
        t = text.lstrip()
        if not t.startswith("["):
            return [], t
        close = t.find("]")
        if close < 0:
            raise self.err(line, "missing `]`")
        return [self.pair(line, tok) for tok in t[1:close].split()], t[close + 1:]

    def spec(self, line, spec):
        spec = spec.strip()
        if not spec:
            raise self.err(line, "missing packet")
        layers = []
        for part in split_top(spec, "/"):
            part = part.strip()
            opn = part.find("(")
            if opn >= 0:
                if not part.endswith(")"):
                    raise self.err(line, "missing `)` in %r" % part)
                head, args = part[:opn].strip(), split_args(part[opn + 1:-1])
            else:
                head, args = part, []
            try:
                if head.startswith("$"):
                    name = head[1:]
                    if name not in self.templates:
                        raise self.err(line, "no packet named %r" % name)
                    t = [l.copy() for l in self.templates[name]]
                    for a in args:
                        k, v = self.pair(line, a)
                        if "." not in k:
                            raise self.err(line, "override %r needs layer.field" % k)
                        lname, field = k.split(".", 1)
                        if lname not in LAYER_FIELDS:
                            raise BuildError("unknown layer %r (known: eth, ipv4, udp, fmh, raw)"
                                             % lname)
                        target = next((l for l in t if l.kind == lname), None)
                        if target is None:
                            raise self.err(line, "$%s has no %s layer" % (name, lname))
                        target.set(field, v)
                    layers.extend(t)
                elif head == "hex":
                    l = Layer("raw", [])
                    l.fields = [("hex", "".join(args))]
                    layers.append(l)
                else:
                    layers.append(Layer(head, [self.pair(line, a) for a in args]))
            except BuildError as e:
                raise self.err(line, str(e))
        return layers

    def packet(self, line, spec):
        layers = self.spec(line, spec)
        try:
            return build(layers)
        except BuildError as e:
            raise self.err(line, str(e))

    def expect(self, line, text):
        what, rest = split_word(text)
        if what == "drop":
            if rest.strip():
                raise self.err(line, "nothing may follow `expect drop`")
            return {"kind": "drop"}
        if what == "packet_in":
            md, spec = self.attrs(line, rest)
            return {"kind": "packet_in", "metadata": md, "bytes": self.packet(line, spec).hex()}
        port = self.port(line, what)
        attrs, spec = self.attrs(line, rest)
        priority = None
        for k, v in attrs:
            if k != "priority":
                raise self.err(line, "unknown attribute %r" % k)
            if not v.isdigit() or int(v) >= 8:
                raise self.err(line, "priority is 0..7")
            priority = int(v)
        return {"kind": "packet", "port": port, "priority": priority,
                "bytes": self.packet(line, spec).hex()}

    def statement(self, line, stmt):
        word, rest = split_word(stmt)
        if word != "expect":
            self.check_last()
        if word == "packet":
            name, rest = split_word(rest)
            rest = rest.strip()
            if not rest.startswith("="):
                raise self.err(line, "expected `packet NAME = SPEC`")
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise self.err(line, "bad packet name %r" % name)
            self.templates[name] = self.spec(line, rest[1:])
        elif word == "entry":
            if "->" not in rest:
                raise self.err(line, "expected `entry TABLE MATCHES -> ACTION(...)`")
            left, right = rest.split("->", 1)
            table, matches = self.table_and_pairs(line, left)
            action, params, priority = self.action(line, right)
            self.steps.append({"kind": "entry", "line": line, "table": table, "matches": matches,
                               "action": action, "params": params, "priority": priority})
        elif word == "default":
            if "->" not in rest:
                raise self.err(line, "expected `default TABLE -> ACTION(...)`")
            left, right = rest.split("->", 1)
            table, matches = self.table_and_pairs(line, left)
            if matches:
                raise self.err(line, "a default entry has no match fields")
            action, params, priority = self.action(line, right)
            if priority is not None:
                raise self.err(line, "a default entry has no priority")
            self.steps.append({"kind": "default", "line": line, "table": table,
                               "action": action, "params": params})
        elif word == "delete":
            toks = rest.split()
            priority = None
            if len(toks) >= 2 and toks[-2] == "priority":
                priority = self.priority_int(line, toks[-1])
                toks = toks[:-2]
            table, matches = self.table_and_pairs(line, " ".join(toks))
            self.steps.append({"kind": "delete", "line": line, "table": table,
                               "matches": matches, "priority": priority})
        elif word == "send":
            port, spec = split_word(rest)
            self.steps.append({"kind": "send", "line": line, "port": self.port(line, port),
                               "bytes": self.packet(line, spec).hex(), "expect": []})
        elif word == "packet_out":
            md, spec = self.attrs(line, rest)
            self.steps.append({"kind": "packet_out", "line": line, "metadata": md,
                               "bytes": self.packet(line, spec).hex(), "expect": []})
        elif word == "expect":
            e = self.expect(line, rest)
            if not self.steps or self.steps[-1]["kind"] not in ("send", "packet_out"):
                raise self.err(line, "`expect` must follow a send or packet_out")
            exp = self.steps[-1]["expect"]
            if any(x["kind"] == "drop" for x in exp) or (exp and e["kind"] == "drop"):
                raise self.err(line, "`expect drop` cannot be mixed with other expects")
            exp.append(e)
        elif word == "counter":
            target, rest = split_word(rest)
            m = re.fullmatch(r"(.+)\[([^\]]+)\]", target)
            if m is None:
                raise self.err(line, "expected `counter NAME[INDEX] packets=N`")
            packets = byts = None
            for tok in rest.split():
                k, _, v = tok.partition("=")
                if k == "packets" and v:
                    packets = self.int_(line, v)
                elif k == "bytes" and v:
                    byts = self.int_(line, v)
                else:
                    raise self.err(line, "unexpected %r" % tok)
            if packets is None:
                raise self.err(line, "counter needs packets=N")
            self.steps.append({"kind": "counter", "line": line, "name": m.group(1),
                               "index": self.int_(line, m.group(2)), "packets": packets,
                               "bytes": byts})
        else:
            raise self.err(line, "unknown statement %r" % word)


def parse_file(path):
    with open(path) as f:
        text = f.read()
    p = Parser(path)
    for line, stmt in logical_lines(text):
        p.statement(line, stmt)
    p.check_last()
    return p.steps


# --------------------------------------------------------------------------------------------
# BMv2 harness
# --------------------------------------------------------------------------------------------

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def compile_program(args):
    os.makedirs(args.build_dir, exist_ok=True)
    p4info = os.path.join(args.build_dir, "flash_mesh.p4info.txtpb")
    bmv2_json = os.path.join(args.build_dir, "flash_mesh.json")
    run([args.p4c, "--p4v", "16", "--p4runtime-files", p4info, "-o", bmv2_json, args.p4])
    return p4info, bmv2_json


class Veths:
    """veth pairs: the switch side `fmsN` (given to BMv2 as port N), the test side `fmhN`."""

    def __init__(self, ports):
        self.ports = ports

    def sw(self, port):
        return "fms%d" % port

    def host(self, port):
        return "fmh%d" % port

    def up(self):
        self.down()
        for p in self.ports:
            run(["ip", "link", "add", self.sw(p), "type", "veth", "peer", "name", self.host(p)])
            for ifc in (self.sw(p), self.host(p)):
                # No IPv6 on the test links: no router solicitations or MLD reports to sniff.
                subprocess.run(["sysctl", "-q", "-w", "net.ipv6.conf.%s.disable_ipv6=1" % ifc],
                               check=False)
                run(["ip", "link", "set", "dev", ifc, "mtu", "9000", "up"])

    def down(self):
        for p in self.ports:
            subprocess.run(["ip", "link", "del", self.sw(p)], check=False,
                           stderr=subprocess.DEVNULL)


class Switch:
    """One simple_switch_grpc process."""

    def __init__(self, args, veths):
        self.args = args
        self.veths = veths
        self.proc = None

    def start(self, log_path):
        a = self.args
        cmd = [a.switch, "--no-p4", "--device-id", "0", "--thrift-port", str(a.thrift_port)]
        for p in self.veths.ports:
            cmd += ["-i", "%d@%s" % (p, self.veths.sw(p))]
        cmd += ["--", "--grpc-server-addr", a.grpc_addr, "--cpu-port", str(a.cpu_port),
                "--priority-queues", "8"]
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        host, port = a.grpc_addr.rsplit(":", 1)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("simple_switch_grpc exited; see %s" % log_path)
            try:
                with socket.create_connection((host, int(port)), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("simple_switch_grpc did not open %s" % a.grpc_addr)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()


class Capture:
    """Raw AF_PACKET sockets on the test side of every veth; frames the test itself sends
    (PACKET_OUTGOING) are ignored, so only what the switch transmitted is collected."""

    def __init__(self, veths):
        self.socks = {}
        for p in veths.ports:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.bind((veths.host(p), 0))
            s.setblocking(False)
            self.socks[p] = s

    def drain(self):
        self.collect()

    def collect(self):
        got = []
        for port, s in self.socks.items():
            while True:
                try:
                    data, addr = s.recvfrom(65535)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue
                got.append((port, data))
        return got

    def close(self):
        for s in self.socks.values():
            s.close()


def packet_in_metadata(sh, msg):
    """{name: int} for a PacketIn message, using the P4Info packet_in metadata names."""
    names = {}
    for cpm in sh.context.p4info.controller_packet_metadata:
        if cpm.preamble.name == "packet_in":
            names = {m.id: m.name for m in cpm.metadata}
    return {names.get(m.metadata_id, str(m.metadata_id)): int.from_bytes(m.value, "big")
            for m in msg.packet.metadata}


def describe(frame_hex):
    """A one-line scapy summary of a frame, for failure messages."""
    try:
        from scapy.layers.l2 import Ether
        return Ether(bytes.fromhex(frame_hex)).summary()
    except Exception:  # noqa: BLE001 - a summary is only decoration
        return ""


class Runner:
    def __init__(self, args, p4info, bmv2_json):
        self.args = args
        self.p4info = p4info
        self.bmv2_json = bmv2_json
        self.veths = Veths(args.ports)
        self.priority_note = False

    def run_file(self, path):
        import p4runtime_sh.shell as sh
        from scapy.all import conf
        steps = parse_file(path)
        self.veths.up()
        switch = Switch(self.args, self.veths)
        log_path = os.path.join(self.args.build_dir,
                                os.path.basename(path).replace(".pkt", ".switch.log"))
        failures = []
        cap = None
        send_socks = {}
        try:
            switch.start(log_path)
            sh.setup(device_id=0, grpc_addr=self.args.grpc_addr, election_id=(0, 1),
                     config=sh.FwdPipeConfig(self.p4info, self.bmv2_json))
            packet_in = sh.PacketIn()
            cap = Capture(self.veths)
            for p in self.veths.ports:
                send_socks[p] = conf.L2socket(iface=self.veths.host(p))
            for step in steps:
                try:
                    self.step(sh, packet_in, cap, send_socks, step)
                except AssertionError as e:
                    failures.append("%s:%d: %s" % (path, step["line"], e))
                    if not self.args.keep_going:
                        break
                except Exception as e:  # noqa: BLE001 - a P4Runtime error fails the step
                    failures.append("%s:%d: %s: %s" % (path, step["line"], type(e).__name__, e))
                    if not self.args.keep_going:
                        break
        finally:
            for s in send_socks.values():
                s.close()
            if cap is not None:
                cap.close()
            try:
                sh.teardown()
            except Exception:  # noqa: BLE001 - the client may never have been set up
                pass
            switch.stop()
            self.veths.down()
        return failures

    def table_entry(self, sh, step, action=True):
        te = sh.TableEntry(step["table"])
        if action:
            te = te(action=step["action"])
        for k, v in step.get("matches", []):
            te.match[k] = v
        if action:
            for k, v in step["params"]:
                te.action[k] = v
        if step.get("priority") is not None:
            te.priority = step["priority"]
        return te

    def step(self, sh, packet_in, cap, send_socks, step):
        kind = step["kind"]
        if kind == "entry":
            self.table_entry(sh, step).insert()
        elif kind == "default":
            te = sh.TableEntry(step["table"])(action=step["action"], is_default=True)
            for k, v in step["params"]:
                te.action[k] = v
            te.modify()
        elif kind == "delete":
            self.table_entry(sh, step, action=False).delete()
        elif kind in ("send", "packet_out"):
            cap.drain()
            list(packet_in.sniff(timeout=0.01))
            frame = bytes.fromhex(step["bytes"])
            if kind == "send":
                from scapy.packet import Raw
                if step["port"] not in send_socks:
                    raise AssertionError("port %d has no veth (use --ports)" % step["port"])
                send_socks[step["port"]].send(Raw(load=frame))
            else:
                po = sh.PacketOut(payload=frame)
                for k, v in step["metadata"]:
                    po.metadata[k] = v
                po.send()
            time.sleep(self.args.wait_ms / 1000.0)
            got_frames = sorted((p, d.hex()) for p, d in cap.collect())
            got_pins = [(packet_in_metadata(sh, m), m.packet.payload.hex())
                        for m in packet_in.sniff(timeout=0.05)]
            self.compare(step, got_frames, got_pins)
        elif kind == "counter":
            ce = sh.CounterEntry(step["name"])
            ce.index = step["index"]
            entries = list(ce.read())
            if len(entries) != 1:
                raise AssertionError("counter %s[%d]: read returned %d entries"
                                     % (step["name"], step["index"], len(entries)))
            e = entries[0]
            packets = e._entry.data.packet_count
            byts = e._entry.data.byte_count
            if packets != step["packets"] or (step["bytes"] is not None
                                              and byts != step["bytes"]):
                raise AssertionError("counter %s[%d]: got packets=%d bytes=%d, expected %s"
                                     % (step["name"], step["index"], packets, byts,
                                        "packets=%d%s" % (step["packets"],
                                                          "" if step["bytes"] is None
                                                          else " bytes=%d" % step["bytes"])))

    def compare(self, step, got_frames, got_pins):
        want_frames = sorted((e["port"], e["bytes"]) for e in step["expect"]
                             if e["kind"] == "packet")
        if any(e["kind"] == "packet" and e["priority"] is not None for e in step["expect"]) \
                and not self.priority_note:
            print("note: BMv2 does not expose standard_metadata.priority on the wire; "
                  "[priority=P] is checked on flash-switch only (tx_class counters cover "
                  "the class here)")
            self.priority_note = True
        want_pins = [({k: parse_number(v) for k, v in e["metadata"]}, e["bytes"])
                     for e in step["expect"] if e["kind"] == "packet_in"]
        problems = []
        if got_frames != want_frames:
            problems.append("frames out: got %s, expected %s" % (
                [(p, h, describe(h)) for p, h in got_frames],
                [(p, h, describe(h)) for p, h in want_frames]))
        remaining = list(got_pins)
        for w in want_pins:
            if w in remaining:
                remaining.remove(w)
            else:
                problems.append("missing packet-in %s %s" % (w[0], w[1]))
        if remaining:
            problems.append("unexpected packet-ins %s" % remaining)
        if problems:
            raise AssertionError("; ".join(problems))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tests", nargs="*", help="test files (default: p4src/tests/*.pkt)")
    ap.add_argument("--p4", default=os.path.join(REPO, "p4src", "flash_mesh.p4"))
    ap.add_argument("--build-dir", default=os.path.join(REPO, "bmv2-testbed", "build"))
    ap.add_argument("--p4c", default="p4c-bm2-ss")
    ap.add_argument("--switch", default="simple_switch_grpc")
    ap.add_argument("--ports", default="1,2,3",
                    type=lambda s: [int(x) for x in s.split(",")],
                    help="switch ports to create veth pairs for (default 1,2,3)")
    ap.add_argument("--grpc-addr", default="127.0.0.1:59559")
    ap.add_argument("--thrift-port", type=int, default=59090)
    ap.add_argument("--cpu-port", type=int, default=255)
    ap.add_argument("--wait-ms", type=int, default=300,
                    help="how long to collect outputs after each send (default 300)")
    ap.add_argument("--keep-going", action="store_true", help="run all steps after a failure")
    ap.add_argument("--dump", action="store_true",
                    help="only parse the files and print their steps as JSON (no BMv2 needed)")
    args = ap.parse_args()
    tests = args.tests or sorted(glob.glob(os.path.join(REPO, "p4src", "tests", "*.pkt")))

    if args.dump:
        try:
            out = {os.path.basename(t): parse_file(t) for t in tests}
        except TestFormatError as e:
            print(e, file=sys.stderr)
            return 2
        json.dump(out, sys.stdout, indent=1, sort_keys=True)
        print()
        return 0

    if os.geteuid() != 0:
        print("run as root: the runner creates veth pairs and raw sockets", file=sys.stderr)
        return 2
    for tool in (args.p4c, args.switch):
        if shutil.which(tool) is None:
            print("%s not found on PATH" % tool, file=sys.stderr)
            return 2
    p4info, bmv2_json = compile_program(args)
    runner = Runner(args, p4info, bmv2_json)
    failed = 0
    for t in tests:
        try:
            failures = runner.run_file(t)
        except TestFormatError as e:
            failures = [str(e)]
        status = "ok" if not failures else "FAILED"
        print("%-40s %s" % (os.path.basename(t), status))
        for f in failures:
            print("    " + f)
        failed += bool(failures)
    print("%d of %d test files passed" % (len(tests) - failed, len(tests)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
