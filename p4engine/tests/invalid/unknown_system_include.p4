// expect: unknown_system_include.p4:3:1: error: unknown system include <psa.p4> (this target provides <core.p4> and <v1model.p4>)
#include <core.p4>
#include <psa.p4>
