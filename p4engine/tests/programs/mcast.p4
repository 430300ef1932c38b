/* mcast.p4 - multicast replication: LLDP-type frames go to multicast group 1; egress records
 * the replica's egress_rid, instance_type and egress_port into a trailer. */
#include <core.p4>
#include <v1model.p4>

header ethernet_t { bit<48> dst; bit<48> src; bit<16> etherType; }
header trailer_t { bit<16> rid; bit<8> inst; bit<16> port; }
struct headers_t { ethernet_t eth; trailer_t tr; }
struct meta_t { bit<8> unused; }

parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.eth); transition accept; }
}
control VC(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        if (hdr.eth.etherType == 0x88cc) {
            sm.mcast_grp = 1;
        } else {
            sm.egress_spec = 1;
        }
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        hdr.tr.setValid();
        hdr.tr.rid = sm.egress_rid;
        hdr.tr.inst = (bit<8>) sm.instance_type;
        hdr.tr.port = (bit<16>) sm.egress_port;
    }
}
control CC(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.eth); pkt.emit(hdr.tr); } }
V1Switch(P(), VC(), MyIngress(), MyEgress(), CC(), D()) main;
