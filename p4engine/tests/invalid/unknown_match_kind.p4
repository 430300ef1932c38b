// expect: unknown_match_kind.p4:8:42: error: unknown match kind 'fuzzy'
#include <core.p4>
#include <v1model.p4>
#include "base.p4inc"
control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action nop() { }
    table t {
        key = { hdr.h.a: exact; hdr.h.b: fuzzy; }
        actions = { nop; }
    }
    apply { t.apply(); }
}
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
