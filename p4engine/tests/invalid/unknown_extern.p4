// expect: unknown_extern.p4:6:5: error: unknown type 'Checksum16'
#include <core.p4>
#include <v1model.p4>
#include "base.p4inc"
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    Checksum16() ck;
    apply { }
}
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
