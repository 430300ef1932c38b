//! Planted bugs: test-only switches, each breaking one safety rule, so that the simulator can
//! show that the invariant guarding the rule catches it.
//!
//! Compiled in only with the `planted-bugs` feature (which no binary enables); without it
//! [`active`] is a constant `false` and every check it guards stays as written. The switch is
//! per thread, so tests running in parallel do not see each other's bugs.

/// A rule that can be broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlantedBug {
    /// No bug.
    #[default]
    None,
    /// The authority votes for an order conflicting with the one it locked.
    SkipLockCheck,
    /// A certificate's weight counts a repeated signer again.
    CountSignerTwice,
    /// A certificate for a past nonce is applied again.
    ApplyTwice,
}

#[cfg(feature = "planted-bugs")]
thread_local! {
    static BUG: std::cell::Cell<PlantedBug> = const { std::cell::Cell::new(PlantedBug::None) };
}

/// Plants `bug` on this thread (`PlantedBug::None` removes it).
#[cfg(feature = "planted-bugs")]
pub fn plant(bug: PlantedBug) {
    BUG.with(|b| b.set(bug));
}

/// Whether `bug` is planted on this thread.
#[cfg(feature = "planted-bugs")]
pub fn active(bug: PlantedBug) -> bool {
    BUG.with(|b| b.get() == bug)
}

/// Whether `bug` is planted: never, without the `planted-bugs` feature.
#[cfg(not(feature = "planted-bugs"))]
#[inline(always)]
pub const fn active(_bug: PlantedBug) -> bool {
    false
}
