/* firewall.p4 - stateful firewall: flows opened from the inside (port 1) are recorded in a
 * two-hash register Bloom filter; traffic from the outside (port 2) passes only when its
 * reverse flow was seen. New inside flows are reported to the controller with a digest. */
#include <core.p4>
#include <v1model.p4>

header ethernet_t { bit<48> dst; bit<48> src; bit<16> etherType; }
header ipv4_t {
    bit<4> version; bit<4> ihl; bit<8> diffserv; bit<16> totalLen;
    bit<16> identification; bit<3> flags; bit<13> fragOffset;
    bit<8> ttl; bit<8> protocol; bit<16> hdrChecksum;
    bit<32> srcAddr; bit<32> dstAddr;
}
header tcp_t {
    bit<16> srcPort; bit<16> dstPort; bit<32> seqNo; bit<32> ackNo;
    bit<4> dataOffset; bit<4> res; bit<8> flags; bit<16> window; bit<16> checksum; bit<16> urgentPtr;
}
struct headers_t { ethernet_t eth; ipv4_t ipv4; tcp_t tcp; }
struct flow_digest_t { bit<32> src; bit<32> dst; bit<16> sport; bit<16> dport; }
struct meta_t { bit<32> h1; bit<32> h2; }

parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.eth);
        transition select(hdr.eth.etherType) { 0x0800: ipv4; default: accept; }
    }
    state ipv4 {
        pkt.extract(hdr.ipv4);
        transition select(hdr.ipv4.protocol) { 6: tcp; default: accept; }
    }
    state tcp { pkt.extract(hdr.tcp); transition accept; }
}

control VC(inout headers_t hdr, inout meta_t meta) { apply { } }

control MyIngress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    register<bit<1>>(1024) bloom;
    counter(2, CounterType.packets) blocked;

    action drop() { mark_to_drop(sm); }
    action set_port(bit<9> port) { sm.egress_spec = port; }
    table fwd {
        key = { sm.ingress_port: exact; }
        actions = { set_port; drop; }
        default_action = drop();
    }

    apply {
        if (!hdr.tcp.isValid()) { drop(); return; }
        if (sm.ingress_port == 1) {
            hash(meta.h1, HashAlgorithm.crc16, 32w0,
                 { hdr.ipv4.srcAddr, hdr.ipv4.dstAddr, hdr.tcp.srcPort, hdr.tcp.dstPort }, 32w1024);
            hash(meta.h2, HashAlgorithm.crc32, 32w0,
                 { hdr.ipv4.srcAddr, hdr.ipv4.dstAddr, hdr.tcp.srcPort, hdr.tcp.dstPort }, 32w1024);
            bit<1> b1; bit<1> b2;
            bloom.read(b1, meta.h1);
            bloom.read(b2, meta.h2);
            if ((b1 & b2) == 0) {
                digest<flow_digest_t>(1, { hdr.ipv4.srcAddr, hdr.ipv4.dstAddr, hdr.tcp.srcPort, hdr.tcp.dstPort });
            }
            bloom.write(meta.h1, 1);
            bloom.write(meta.h2, 1);
        } else {
            // the reverse flow: outside dst/src swapped
            hash(meta.h1, HashAlgorithm.crc16, 32w0,
                 { hdr.ipv4.dstAddr, hdr.ipv4.srcAddr, hdr.tcp.dstPort, hdr.tcp.srcPort }, 32w1024);
            hash(meta.h2, HashAlgorithm.crc32, 32w0,
                 { hdr.ipv4.dstAddr, hdr.ipv4.srcAddr, hdr.tcp.dstPort, hdr.tcp.srcPort }, 32w1024);
            bit<1> b1; bit<1> b2;
            bloom.read(b1, meta.h1);
            bloom.read(b2, meta.h2);
            if (b1 == 0 || b2 == 0) {
                blocked.count(0);
                drop();
                exit;
            }
        }
        fwd.apply();
    }
}

control MyEgress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control CC(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.eth); pkt.emit(hdr.ipv4); pkt.emit(hdr.tcp); }
}
V1Switch(P(), VC(), MyIngress(), MyEgress(), CC(), D()) main;
