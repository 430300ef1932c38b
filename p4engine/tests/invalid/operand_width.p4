// expect: operand_width.p4:7:27: error: width mismatch: operator '+' on bit<8> and bit<16> (cast one operand)
#include <core.p4>
#include <v1model.p4>
#include "base.p4inc"
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        hdr.h.b = hdr.h.a + hdr.h.b;
    }
}
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
