//! Vigil's one integration-test binary (as ripgrep's tests/tests.rs):
//! golden scenarios, the real `vigil` binary over HTTP, the CLI, `gen`,
//! and the evaluation data in ../shared/data (NAB, CrisisLexT26; skipped
//! when absent).

// Synchronous harnesses: they poll child processes and files.
#![allow(clippy::disallowed_methods)]

mod cli;
mod clock;
mod console;
mod crisislex;
mod deploy;
mod gen;
mod golden;
#[cfg(feature = "kafka")]
mod kafka;
mod limits;
mod nab;
mod util;
