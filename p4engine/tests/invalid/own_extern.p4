// expect: own_extern.p4:4:1: error: unsupported construct: programs cannot declare their own externs
#include <core.p4>
#include <v1model.p4>
extern void my_fast_path(in bit<8> x);
#include "base.p4inc"
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { my_fast_path(hdr.h.a); }
}
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
