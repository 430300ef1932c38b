// expect: unsupported_loop.p4:6:13: error: unsupported construct: 'for' statement
#include <core.p4>
#include <v1model.p4>
#include "base.p4inc"
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { for (bit<8> i = 0; i < 4; i = i + 1) { } }
}
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
