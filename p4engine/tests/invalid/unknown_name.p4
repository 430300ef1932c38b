// expect: unknown_name.p4:7:29: error: unknown name 'undefined_thing'
#include <core.p4>
#include <v1model.p4>
#include "base.p4inc"
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        hdr.h.a = hdr.h.a + undefined_thing;
    }
}
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
