//! Vigil's one integration-test binary (as ripgrep's tests/tests.rs):
//! golden scenarios, the real `vigil` binary over HTTP, the CLI, and `gen`.

mod cli;
mod clock;
mod console;
mod deploy;
mod gen;
mod golden;
mod kafka;
mod limits;
mod nab;
mod util;
