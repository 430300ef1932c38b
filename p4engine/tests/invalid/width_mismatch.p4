// expect: width_mismatch.p4:7:19: error: width mismatch: expected bit<8>, found bit<16>
#include <core.p4>
#include <v1model.p4>
#include "base.p4inc"
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        hdr.h.a = hdr.h.b;
    }
}
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
