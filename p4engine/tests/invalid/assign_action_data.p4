// expect: assign_action_data.p4:6:34: error: cannot assign to 'port': parameters without direction are read-only
#include <core.p4>
#include <v1model.p4>
#include "base.p4inc"
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action fwd(bit<9> port) {    port = 1; sm.egress_spec = port; }
    table t { key = { hdr.h.a: exact; } actions = { fwd; } }
    apply { t.apply(); }
}
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
