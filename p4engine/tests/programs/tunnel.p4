/* tunnel.p4 - a custom tunnel header selected by etherType 0x1212: IPv4 packets whose
 * destination has a tunnel are encapsulated; tunnelled packets are forwarded by tunnel id and
 * decapsulated at the tunnel's exit port. */
#include <core.p4>
#include <v1model.p4>

const bit<16> TYPE_TUNNEL = 0x1212;
const bit<16> TYPE_IPV4 = 0x0800;

header ethernet_t { bit<48> dst; bit<48> src; bit<16> etherType; }
header tunnel_t { bit<16> proto_id; bit<16> dst_id; }
header ipv4_t {
    bit<4> version; bit<4> ihl; bit<8> diffserv; bit<16> totalLen;
    bit<16> identification; bit<3> flags; bit<13> fragOffset;
    bit<8> ttl; bit<8> protocol; bit<16> hdrChecksum;
    bit<32> srcAddr; bit<32> dstAddr;
}
struct headers_t { ethernet_t eth; tunnel_t tun; ipv4_t ipv4; }
struct meta_t { bit<1> decap; }

parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.eth);
        transition select(hdr.eth.etherType) {
            TYPE_TUNNEL: parse_tunnel;
            TYPE_IPV4: parse_ipv4;
            default: accept;
        }
    }
    state parse_tunnel {
        pkt.extract(hdr.tun);
        transition select(hdr.tun.proto_id) {
            TYPE_IPV4: parse_ipv4;
            default: accept;
        }
    }
    state parse_ipv4 { pkt.extract(hdr.ipv4); transition accept; }
}

control VC(inout headers_t hdr, inout meta_t meta) { apply { } }

control MyIngress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action drop() { mark_to_drop(sm); }
    action encap(bit<16> dst_id) {
        hdr.tun.setValid();
        hdr.tun.proto_id = hdr.eth.etherType;
        hdr.tun.dst_id = dst_id;
        hdr.eth.etherType = TYPE_TUNNEL;
    }
    table tunnel_map {
        key = { hdr.ipv4.dstAddr: lpm; }
        actions = { encap; NoAction; }
        default_action = NoAction();
    }
    action tunnel_forward(bit<9> port, bit<1> last_hop) {
        sm.egress_spec = port;
        meta.decap = last_hop;
    }
    table tunnel_exact {
        key = { hdr.tun.dst_id: exact; }
        actions = { tunnel_forward; drop; }
        default_action = drop();
    }
    apply {
        if (hdr.ipv4.isValid() && !hdr.tun.isValid()) {
            tunnel_map.apply();
        }
        if (hdr.tun.isValid()) {
            tunnel_exact.apply();
            if (meta.decap == 1) {
                hdr.eth.etherType = hdr.tun.proto_id;
                hdr.tun.setInvalid();
            }
        } else {
            drop();
        }
    }
}

control MyEgress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control CC(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.eth); pkt.emit(hdr.tun); pkt.emit(hdr.ipv4); }
}
V1Switch(P(), VC(), MyIngress(), MyEgress(), CC(), D()) main;
