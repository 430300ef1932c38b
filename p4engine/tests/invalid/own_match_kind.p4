// expect: own_match_kind.p4:9:26: error: match kind 'fancy' is not supported by this target
#include <core.p4>
#include <v1model.p4>
match_kind { fancy }
#include "base.p4inc"
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action nop() { }
    table t {
        key = { hdr.h.a: fancy; }
        actions = { nop; }
    }
    apply { t.apply(); }
}
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
