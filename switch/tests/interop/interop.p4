/* interop.p4 - the pipeline the p4runtime-shell interop test pushes to flash-switch:
 * controller headers for packet-in/out, an exact table with a direct counter, a ternary
 * ACL, and a per-port indexed counter. CPU port 255. */
#include <core.p4>
#include <v1model.p4>

const bit<9> CPU_PORT = 255;

@controller_header("packet_in")
header packet_in_t {
    bit<9> ingress_port;
    bit<7> pad;
}

@controller_header("packet_out")
header packet_out_t {
    bit<9> egress_port;
    bit<7> pad;
}

header ethernet_t {
    bit<48> dst;
    bit<48> src;
    bit<16> ether_type;
}

struct headers_t {
    packet_out_t po;
    packet_in_t  pi;
    ethernet_t   eth;
}

struct meta_t { }

parser IParser(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        transition select(sm.ingress_port) {
            CPU_PORT: parse_packet_out;
            default: parse_ethernet;
        }
    }
    state parse_packet_out {
        pkt.extract(hdr.po);
        transition parse_ethernet;
    }
    state parse_ethernet {
        pkt.extract(hdr.eth);
        transition accept;
    }
}

control IVerify(inout headers_t hdr, inout meta_t meta) { apply { } }

control IIngress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    counter(512, CounterType.packets_and_bytes) port_rx;
    direct_counter(CounterType.packets_and_bytes) dmac_hits;

    action forward(bit<9> port) {
        sm.egress_spec = port;
        dmac_hits.count();
    }
    action to_cpu() {
        sm.egress_spec = CPU_PORT;
        hdr.pi.setValid();
        hdr.pi.ingress_port = sm.ingress_port;
        dmac_hits.count();
    }
    action discard() {
        mark_to_drop(sm);
    }
    action dmac_miss() {
        mark_to_drop(sm);
        dmac_hits.count();
    }

    table dmac {
        key = { hdr.eth.dst: exact; }
        actions = { forward; to_cpu; dmac_miss; }
        default_action = dmac_miss();
        counters = dmac_hits;
        size = 64;
    }

    table acl {
        key = {
            hdr.eth.ether_type: ternary;
            hdr.eth.src: ternary;
        }
        actions = { discard; NoAction; }
        default_action = NoAction();
        size = 32;
    }

    apply {
        if (hdr.po.isValid()) {
            sm.egress_spec = hdr.po.egress_port;
            hdr.po.setInvalid();
        } else {
            port_rx.count((bit<32>) sm.ingress_port);
            dmac.apply();
            acl.apply();
        }
    }
}

control IEgress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }

control IChecksum(inout headers_t hdr, inout meta_t meta) { apply { } }

control IDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.pi);
        pkt.emit(hdr.eth);
    }
}

V1Switch(IParser(), IVerify(), IIngress(), IEgress(), IChecksum(), IDeparser()) main;
