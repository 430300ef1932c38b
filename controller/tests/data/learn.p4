/* learn.p4 - a small program for the controller's digest and direct-counter tests: every frame
 * sends a digest of (source MAC, ingress port); frames are forwarded by an exact match on the
 * destination MAC whose entries carry a direct counter. */
#include <core.p4>
#include <v1model.p4>

header ethernet_t { bit<48> dst; bit<48> src; bit<16> etherType; }
struct headers_t { ethernet_t eth; }
struct learn_t { bit<48> src; bit<9> port; }
struct meta_t { bit<8> unused; }

parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.eth);
        transition accept;
    }
}

control VC(inout headers_t hdr, inout meta_t meta) { apply { } }

control LearnIngress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    direct_counter(CounterType.packets_and_bytes) fwd_hits;

    action set_port(bit<9> port) {
        sm.egress_spec = port;
        fwd_hits.count();
    }
    action drop() {
        mark_to_drop(sm);
        fwd_hits.count();
    }
    table fwd {
        key = { hdr.eth.dst: exact; }
        actions = { set_port; drop; }
        default_action = drop();
        counters = fwd_hits;
        size = 64;
    }
    apply {
        digest<learn_t>(1, { hdr.eth.src, sm.ingress_port });
        fwd.apply();
    }
}

control LearnEgress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control CC(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.eth); } }

V1Switch(P(), VC(), LearnIngress(), LearnEgress(), CC(), D()) main;
