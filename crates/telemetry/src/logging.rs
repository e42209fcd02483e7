//! Tracing setup: logs go to stderr (stdout carries alerts), as text or JSON.

use std::io::IsTerminal;

use std::borrow::Cow;

use tracing_subscriber::{
    field::MakeExt,
    fmt::{self, format::Writer},
    EnvFilter,
};

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}

/// True when `e` or any error it was caused by is a broken pipe: a reader
/// of the output went away (`vigil ... | head`), which ends a command
/// quietly instead of as an error.
pub fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Installs the global subscriber. `RUST_LOG` overrides `default_level`.
/// Calling it twice is harmless (the second call does nothing).
pub fn init_logging(format: LogFormat, default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = fmt::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.fmt_fields(escaped_fields()).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Text-log fields with every control character escaped (`\n`, `\u{1b}`):
/// values can come from input (a rejected line's text, a comment), and a
/// raw newline would forge a log line, a raw escape sequence would drive the
/// reader's terminal. JSON logs escape by construction.
fn escaped_fields() -> impl for<'w> fmt::FormatFields<'w> {
    fmt::format::debug_fn(
        |w: &mut Writer<'_>, field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
            let v = format!("{value:?}");
            if field.name() == "message" {
                write!(w, "{}", escape_control(&v))
            } else {
                write!(w, "{}={}", field, escape_control(&v))
            }
        },
    )
    .delimited(" ")
}

/// `s` with control characters escaped as Rust escapes them.
pub fn escape_control(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_text_kept() {
        assert_eq!(escape_control("plain 艾克美"), "plain 艾克美");
        assert_eq!(
            escape_control("a\nINFO forged\u{1b}[31mred\r\t"),
            "a\\nINFO forged\\u{1b}[31mred\\r\\t"
        );
    }
}
