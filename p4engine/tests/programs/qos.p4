/* qos.p4 - metering and priorities: a per-port packet meter colours traffic (red is dropped,
 * yellow goes to priority 1), a ternary classifier with a direct counter and a direct byte
 * meter sets the priority of green traffic, and egress records the priority and queue depth
 * it saw into a trailer header. */
#include <core.p4>
#include <v1model.p4>

header ethernet_t { bit<48> dst; bit<48> src; bit<16> etherType; }
header trailer_t { bit<8> prio; bit<8> colour; bit<8> dcolour; bit<32> qdepth; }
struct headers_t { ethernet_t eth; trailer_t tr; }
struct meta_t { bit<2> colour; bit<2> dcolour; }

parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.eth); transition accept; }
}
control VC(inout headers_t hdr, inout meta_t meta) { apply { } }

control MyIngress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    meter(8, MeterType.packets) port_meter;
    direct_counter(CounterType.packets_and_bytes) class_hits;
    direct_meter<bit<2>>(MeterType.bytes) class_meter;

    action set_class(bit<3> prio) {
        sm.priority = prio;
        class_meter.read(meta.dcolour);
    }
    action default_class() { sm.priority = 0; }
    table classify {
        key = { hdr.eth.etherType: ternary; hdr.eth.src: optional; }
        actions = { set_class; default_class; }
        default_action = default_class();
        counters = class_hits;
        meters = class_meter;
    }
    apply {
        port_meter.execute_meter((bit<32>) sm.ingress_port, meta.colour);
        if (meta.colour == 2) {
            mark_to_drop(sm);
            return;
        }
        sm.egress_spec = 2;
        if (meta.colour == 1) {
            sm.priority = 1;
        } else {
            classify.apply();
        }
        hdr.tr.setValid();
        hdr.tr.colour = (bit<8>) meta.colour;
        hdr.tr.dcolour = (bit<8>) meta.dcolour;
    }
}

control MyEgress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        hdr.tr.prio = (bit<8>) sm.priority;
        hdr.tr.qdepth = (bit<32>) sm.enq_qdepth;
    }
}
control CC(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.eth); pkt.emit(hdr.tr); } }
V1Switch(P(), VC(), MyIngress(), MyEgress(), CC(), D()) main;
