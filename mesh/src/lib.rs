//! The in-process Flash-Mesh: embedded flash-switches on emulated links, anchors, wallets and the experiment phases.
