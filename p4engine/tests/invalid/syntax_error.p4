// expect: syntax_error.p4:7:9: error: syntax error: expected ';', found 'sm'
#include <core.p4>
#include <v1model.p4>
#include "base.p4inc"
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { hdr.h.a = 1
        sm.egress_spec = 2; }
}
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
