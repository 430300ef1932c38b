// expect: missing_include.p4:4:1: error: cannot include "headers_that_do_not_exist.p4"
#include <core.p4>
#include <v1model.p4>
#include "headers_that_do_not_exist.p4"
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
