"""Drives flash-switch with p4runtime-shell (PyPI p4runtime-shell), a P4Runtime client
that is not part of this project.

Usage: p4runtime_shell_interop.py GRPC_ADDR DEVICE_ID P4INFO_TXTPB P4_SOURCE

Steps (the Rust test on the other side injects frames and checks port outputs):
  1. connect as primary and push the pipeline (P4Info text file + P4 source as device config);
  2. insert table entries and read them back;
  3. print INJECT and wait for a line on stdin (the Rust side sends frames into port 1);
  4. read the indexed and direct counters and check them, receive a packet-in;
  5. send a packet-out to port 3;
  6. print a JSON summary on the last line and exit 0; any failed check raises.
"""

import json
import sys

import p4runtime_sh.shell as sh
from p4runtime_sh.p4runtime import P4RuntimeWriteException

DMAC_FWD = "02:00:00:00:00:02"
BROADCAST = "ff:ff:ff:ff:ff:ff"
PACKET_OUT_PAYLOAD = bytes.fromhex("020000000003020000000001" + "88b5") + b"packet-out"


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def main():
    grpc_addr, device_id, p4info_path, source_path = sys.argv[1:5]
    sh.setup(
        device_id=int(device_id),
        grpc_addr=grpc_addr,
        election_id=(0, 1),
        config=sh.FwdPipeConfig(p4info_path, source_path),
        verbose=False,
    )
    summary = {}
    try:
        # Table entries, as a person would type them in the shell.
        te = sh.TableEntry("IIngress.dmac")(action="IIngress.forward")
        te.match["hdr.eth.dst"] = DMAC_FWD
        te.action["port"] = "2"
        te.insert()
        te = sh.TableEntry("IIngress.dmac")(action="IIngress.to_cpu")
        te.match["hdr.eth.dst"] = BROADCAST
        te.insert()
        acl = sh.TableEntry("IIngress.acl")(action="IIngress.discard")
        acl.match["hdr.eth.ether_type"] = "0x88cc&&&0xffff"
        acl.priority = 10
        acl.insert()

        # Inserting the same entry again must fail with ALREADY_EXISTS.
        try:
            acl.insert()
            raise AssertionError("duplicate insert accepted")
        except P4RuntimeWriteException as e:
            check("ALREADY_EXISTS" in str(e), f"duplicate insert error: {e}")
            summary["duplicate_insert"] = "ALREADY_EXISTS"

        entries = list(sh.TableEntry("IIngress.dmac").read())
        check(len(entries) == 2, f"dmac has {len(entries)} entries")
        summary["dmac_entries"] = len(entries)
        summary["acl_entries"] = len(list(sh.TableEntry("IIngress.acl").read()))

        # Default entry: modify only.
        dflt = sh.TableEntry("IIngress.dmac")(is_default=True, action="IIngress.to_cpu")
        dflt.modify()
        dflt = sh.TableEntry("IIngress.dmac")(is_default=True, action="IIngress.dmac_miss")
        dflt.modify()

        packet_in = sh.PacketIn()

        print("INJECT", flush=True)
        line = sys.stdin.readline()
        check(line.strip() == "GO", f"unexpected handshake {line!r}")

        # Indexed counter: two frames arrived on port 1.
        cells = {}
        for c in sh.CounterEntry("IIngress.port_rx").read():
            cells[c.index] = (c.packet_count, c.byte_count)
        check(len(cells) == 512, f"wildcard counter read gave {len(cells)} cells")
        one = sh.CounterEntry("IIngress.port_rx")
        one.index = 1
        (cell,) = list(one.read())
        check(cell.packet_count == 2, f"port 1 packet count {cell.packet_count}")
        summary["port_rx_1"] = {"packets": cell.packet_count, "bytes": cell.byte_count}

        # Direct counter of the forwarding entry: one hit.
        dc = sh.DirectCounterEntry("IIngress.dmac_hits")
        dc.table_entry.match["hdr.eth.dst"] = DMAC_FWD
        (hit,) = list(dc.read())
        check(hit.packet_count == 1, f"direct counter packets {hit.packet_count}")
        summary["dmac_hits_fwd"] = {"packets": hit.packet_count, "bytes": hit.byte_count}

        # The broadcast frame was punted: a packet-in with its ingress port.
        msgs = list(packet_in.sniff(timeout=2))
        check(len(msgs) >= 1, "no packet-in received")
        pin = msgs[0].packet
        md = {m.metadata_id: m.value for m in pin.metadata}
        check(md.get(1) == b"\x01", f"packet-in ingress_port metadata {md}")
        summary["packet_in"] = {"payload_len": len(pin.payload), "ingress_port": md[1].hex()}

        # Packet-out to port 3.
        po = sh.PacketOut(PACKET_OUT_PAYLOAD)
        po.metadata["egress_port"] = "3"
        po.metadata["pad"] = "0"
        po.send()
        summary["packet_out"] = {"port": 3, "payload": PACKET_OUT_PAYLOAD.hex()}
    finally:
        sh.teardown()
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
