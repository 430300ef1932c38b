// expect: literal_too_big.p4:6:23: error: value 0x100 does not fit in bit<8>
#include <core.p4>
#include <v1model.p4>
#include "base.p4inc"
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { hdr.h.a = 8w256; }
}
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
