// expect: unsupported_header_union.p4:4:1: error: unsupported construct: header_union 'u_t'
#include <core.p4>
#include <v1model.p4>
header_union u_t { bit<8> a; }
#include "base.p4inc"
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
