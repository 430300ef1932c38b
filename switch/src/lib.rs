//! flash-switch: a software P4Runtime target standing in for BMv2 simple_switch_grpc.
