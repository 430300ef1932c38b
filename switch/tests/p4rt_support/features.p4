/* features.p4 - the P4Runtime feature tests' pipeline: an indexed meter, a table with a
 * direct meter, a register, and a learning digest of (source MAC, ingress port). */
#include <core.p4>
#include <v1model.p4>

header ethernet_t {
    bit<48> dst;
    bit<48> src;
    bit<16> ether_type;
}

struct headers_t {
    ethernet_t eth;
}

struct learn_t {
    bit<48> src;
    bit<9>  port;
}

struct meta_t {
    bit<32> color;
    learn_t learn;
}

parser FParser(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.eth);
        transition accept;
    }
}

control FVerify(inout headers_t hdr, inout meta_t meta) { apply { } }

control FIngress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    meter(4, MeterType.packets) port_meter;
    direct_meter<bit<32>>(MeterType.bytes) flow_meter;
    register<bit<32>>(4) last_type;

    action police() {
        flow_meter.read(meta.color);
    }

    table flows {
        key = { hdr.eth.src: exact; }
        actions = { police; NoAction; }
        default_action = NoAction();
        meters = flow_meter;
        size = 16;
    }

    apply {
        port_meter.execute_meter((bit<32>) sm.ingress_port & 3, meta.color);
        last_type.write(0, (bit<32>) hdr.eth.ether_type);
        if (hdr.eth.ether_type == 0x88b5) {
            meta.learn.src = hdr.eth.src;
            meta.learn.port = sm.ingress_port;
            digest<learn_t>(1, meta.learn);
        }
        flows.apply();
        sm.egress_spec = 2;
    }
}

control FEgress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }

control FChecksum(inout headers_t hdr, inout meta_t meta) { apply { } }

control FDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.eth);
    }
}

V1Switch(FParser(), FVerify(), FIngress(), FEgress(), FChecksum(), FDeparser()) main;
