//! The `stdout` sink: one JSON alert per line to a writer. No retries: a
//! write error is returned as is.

use tokio::io::{AsyncWrite, AsyncWriteExt};
use vigil_types::Alert;

use super::SinkError;

/// An alert, marked with what kind of notification it is when it is not an
/// alert.
#[derive(serde::Serialize)]
pub(crate) struct Tagged<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification: Option<&'a str>,
    #[serde(flatten)]
    pub alert: &'a Alert,
}

pub(crate) struct LinesSink {
    writer: Box<dyn AsyncWrite + Send + Unpin>,
}

impl LinesSink {
    pub(crate) fn new(writer: Box<dyn AsyncWrite + Send + Unpin>) -> LinesSink {
        LinesSink { writer }
    }

    /// One line: the alert's JSON, with `notification` when it is not an
    /// alert (a published status update).
    pub(crate) async fn deliver_tagged(
        &mut self,
        alert: &Alert,
        notification: Option<&str>,
    ) -> Result<(), SinkError> {
        let mut line = serde_json::to_vec(&Tagged {
            notification,
            alert,
        })?;
        line.push(b'\n');
        self.writer.write_all(&line).await?;
        Ok(())
    }

    pub(crate) async fn flush(&mut self) -> Result<(), SinkError> {
        self.writer.flush().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::Sink;
    use vigil_types::{Alert, Level, Transition};

    fn alert() -> Alert {
        let mut a = vigil_types::fixtures::alert("w", "w-1", Transition::Opened, Level::Major, 60);
        a.figures.reason = "major: impact".into();
        a.figures.observed = 30;
        a.figures.z = 9.0;
        a.figures.negative_share = 0.5;
        a.figures.distinct_sources = 2;
        a
    }

    #[tokio::test]
    async fn lines_sink_writes_one_json_line_per_alert() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut s = Sink::lines("stdout", Box::new(client));
        assert_eq!((s.name(), s.kind()), ("stdout", "stdout"));
        s.deliver(&alert()).await.unwrap();
        s.deliver(&alert()).await.unwrap();
        s.flush().await.unwrap();
        drop(s);
        let mut out = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut server, &mut out)
            .await
            .unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(serde_json::from_str::<Alert>(lines[0]).unwrap(), alert());
        assert_eq!(out, {
            let one = serde_json::to_string(&alert()).unwrap();
            format!("{one}\n{one}\n")
        });
    }
}
