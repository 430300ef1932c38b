//! P4Runtime client library and the Flash-Mesh SDN logic.
