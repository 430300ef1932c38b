// expect: too_wide.p4:4:27: error: bit<129> is wider than 128 bits, the widest this target supports
#include <core.p4>
#include <v1model.p4>
header wide_t { bit<8> a; bit<129> b; }
#include "base.p4inc"
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
