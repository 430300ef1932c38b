//! P4Runtime, P4Info and Flash-Mesh management protobuf types, generated at build time.
