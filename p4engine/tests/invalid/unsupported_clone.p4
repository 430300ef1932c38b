// expect: unsupported_clone.p4:6:13: error: 'clone' is not supported by this target
#include <core.p4>
#include <v1model.p4>
#include "base.p4inc"
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { clone(CloneType.I2E, 32w1); }
}
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
