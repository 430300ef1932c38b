// expect: wrong_direction_role.p4:5:11: error: parameter 'hdr' of 'I' must have direction inout for the V1Switch role Ingress
#include <core.p4>
#include <v1model.p4>
#include "base.p4inc"
control I(in headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
