// expect: bad_field.p4inc:2:14: error: unknown type 'nosuch_t'
#include <core.p4>
#include <v1model.p4>
#include "bad_field.p4inc"
