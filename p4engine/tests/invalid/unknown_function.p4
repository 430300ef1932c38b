// expect: unknown_function.p4:6:13: error: unknown function or action 'send_to_cpu'
#include <core.p4>
#include <v1model.p4>
#include "base.p4inc"
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { send_to_cpu(sm); }
}
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
