// expect: slice_range.p4:7:19: error: slice [8:0] is out of range for bit<8> (bits 7..0)
#include <core.p4>
#include <v1model.p4>
#include "base.p4inc"
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        hdr.h.b = hdr.h.a[8:0] ++ 7w0;
    }
}
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
