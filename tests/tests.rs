//! Vigil's one integration-test binary (as ripgrep's tests/tests.rs):
//! golden scenarios, the real `vigil` binary over HTTP, the CLI, and `gen`.

// Synchronous harnesses: they poll child processes and files.
#![allow(clippy::disallowed_methods)]

mod cli;
mod clock;
mod console;
mod deploy;
mod gen;
mod golden;
#[cfg(feature = "kafka")]
mod kafka;
mod limits;
mod nab;
mod util;
