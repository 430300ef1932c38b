// expect: assign_in_param.p4:6:29: error: cannot assign to 'v': it is an 'in' parameter
#include <core.p4>
#include <v1model.p4>
#include "base.p4inc"
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action a(in bit<8> v) { v = 1; hdr.h.a = v; }
    apply {
        a(hdr.h.a);
    }
}
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
