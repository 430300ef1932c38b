/* punt.p4 - packet-in/out through the CPU port: ARP and packets matching the punt table go to
 * the controller with their ingress port and a reason; packet-outs carry their egress port. */
#include <core.p4>
#include <v1model.p4>

const bit<9> CPU_PORT = 255;

@controller_header("packet_in")
header packet_in_t { bit<9> ingress_port; bit<8> reason; bit<7> pad; }

@controller_header("packet_out")
header packet_out_t { bit<9> egress_port; bit<7> pad; }

header ethernet_t { bit<48> dst; bit<48> src; bit<16> etherType; }
struct headers_t { packet_in_t pi; packet_out_t po; ethernet_t eth; }
struct meta_t { bit<8> unused; }

parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        transition select(sm.ingress_port) { CPU_PORT: parse_po; default: parse_eth; }
    }
    state parse_po { pkt.extract(hdr.po); transition parse_eth; }
    state parse_eth { pkt.extract(hdr.eth); transition accept; }
}
control VC(inout headers_t hdr, inout meta_t meta) { apply { } }

control MyIngress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action to_cpu(bit<8> reason) {
        sm.egress_spec = CPU_PORT;
        hdr.pi.setValid();
        hdr.pi.ingress_port = sm.ingress_port;
        hdr.pi.reason = reason;
    }
    action l2_fwd(bit<9> port) { sm.egress_spec = port; }
    table l2 {
        key = { hdr.eth.dst: exact; }
        actions = { to_cpu; l2_fwd; @defaultonly NoAction; }
        default_action = NoAction();
    }
    apply {
        if (hdr.po.isValid()) {
            sm.egress_spec = hdr.po.egress_port;
            hdr.po.setInvalid();
            return;
        }
        if (hdr.eth.etherType == 0x0806) {
            to_cpu(1);
            return;
        }
        if (!l2.apply().hit) {
            to_cpu(2);
        }
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control CC(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.pi); pkt.emit(hdr.eth); } }
V1Switch(P(), VC(), MyIngress(), MyEgress(), CC(), D()) main;
