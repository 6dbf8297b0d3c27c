//! Fault injection for the cleanup tests: `RXL_FAULT_INJECT=<step>` makes the builder fail
//! right before that step, so a lab scenario can check that nothing leaks from any step.

/// The variable read.
pub const ENV: &str = "RXL_FAULT_INJECT";

/// The steps, in the order the builder runs them.
pub const STEPS: &[&str] = &[
    "createdomain",
    "max_mem",
    "populate",
    "load",
    "evtchn",
    "grant",
    "vcpu",
    "xenstore",
    "introduce",
    "unpause",
];

/// Fails with the step name when `RXL_FAULT_INJECT` names it.
pub fn check(step: &'static str) -> Result<(), super::BuildError> {
    debug_assert!(STEPS.contains(&step), "unknown step {step}");
    match std::env::var(ENV) {
        Ok(v) if v == step => Err(super::BuildError::Injected(step)),
        _ => Ok(()),
    }
}
