//! The `slack` sink: a Slack-compatible incoming-webhook message (Slack,
//! Mattermost and Rocket.Chat accept the same shape), through the shared
//! [`HttpDelivery`].
//!
//! The message has a short mrkdwn `text` (the notification and the fallback
//! for clients without blocks) and Block Kit `blocks`: a header, a section
//! with the reason and fields (level, state, watch, volume, top terms, crisis
//! kinds), and a context line with the incident, window and alert id.
//! Text from the alert is escaped (`&`, `<`, `>`) and cut to Slack's limits.

use serde_json::{json, Value};
use vigil_types::{Alert, Transition};

use super::{HttpDelivery, SinkError};

/// Slack's limit for a header block's text.
const HEADER_MAX_CHARS: usize = 150;
/// Slack's limit for one section field.
const FIELD_MAX_CHARS: usize = 2000;
/// Slack's limit for a section's text.
const SECTION_MAX_CHARS: usize = 3000;
/// The one-line summary of stories and rising terms in the fallback text.
const SUMMARY_MAX_CHARS: usize = 600;
/// Slack truncates a message's top-level `text` past 40,000 characters;
/// Vigil keeps it far below (a notification's preview).
const TEXT_MAX_CHARS: usize = 4000;

pub(crate) struct SlackSink {
    http: HttpDelivery,
}

impl SlackSink {
    pub(crate) fn new(http: HttpDelivery) -> SlackSink {
        SlackSink { http }
    }

    pub(crate) async fn deliver(&mut self, alert: &Alert) -> Result<(), SinkError> {
        let body = serde_json::to_vec(&message(alert))?;
        self.http.post(&body, |_| Default::default()).await
    }
}

impl SlackSink {
    /// A published status update: the statement itself, for people.
    pub(crate) async fn deliver_status(&mut self, alert: &Alert) -> Result<(), SinkError> {
        let body = serde_json::to_vec(&status_message(alert))?;
        self.http.post(&body, |_| Default::default()).await
    }
}

/// The message for a published status update (its text is the alert's
/// reason after `Status update: `).
pub(crate) fn status_message(a: &Alert) -> Value {
    let statement = a
        .figures
        .reason
        .strip_prefix("Status update: ")
        .unwrap_or(&a.figures.reason);
    let watch = escape(a.watch.as_str());
    json!({
        "text": truncate(
            &format!(":loudspeaker: Status update on *{watch}* ({}): {}", a.level.as_str(), escape(statement)),
            TEXT_MAX_CHARS,
        ),
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": truncate(&format!("Status update: {}", a.watch), HEADER_MAX_CHARS),
                    "emoji": true,
                },
            },
            {
                "type": "section",
                "text": { "type": "mrkdwn", "text": truncate(&escape(statement), SECTION_MAX_CHARS) },
            },
            {
                "type": "context",
                "elements": [{
                    "type": "mrkdwn",
                    "text": truncate(
                        &format!("Incident `{}` · {} crisis", escape(&a.incident), a.level.as_str()),
                        FIELD_MAX_CHARS,
                    ),
                }],
            },
        ],
    })
}

/// The incoming-webhook message for one alert.
pub(crate) fn message(a: &Alert) -> Value {
    let level = a.level.as_str().to_uppercase();
    let emoji = match a.transition {
        Transition::Opened | Transition::Escalated | Transition::Ongoing => ":rotating_light:",
        Transition::Resolved => ":white_check_mark:",
    };
    let watch = escape(a.watch.as_str());
    let terms = if a.figures.top_terms.is_empty() {
        "none".to_string()
    } else {
        escape(&a.figures.top_terms.join(", "))
    };
    let kinds = if a.crisis_kinds.is_empty() {
        "none".to_string()
    } else {
        a.crisis_kinds
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let volume = format!(
        "{} posts vs baseline {:.1} (z {:.1}, {:.0}% negative)",
        a.figures.observed,
        a.figures.baseline,
        a.figures.z,
        a.figures.negative_share * 100.0
    );
    let gist = a.evidence.summary_line(SUMMARY_MAX_CHARS);
    let mut text = format!(
        "{emoji} *{level}* crisis {state} on *{watch}*: {reason}\nTop terms: {terms}\nObserved {volume}",
        state = a.transition.as_str(),
        reason = escape(&a.figures.reason),
    );
    if !gist.is_empty() {
        text.push('\n');
        text.push_str(&escape(&gist));
    }
    let field = |title: &str, value: &str| {
        json!({
            "type": "mrkdwn",
            "text": truncate(&format!("*{title}*\n{value}"), FIELD_MAX_CHARS),
        })
    };
    let mut blocks = vec![
        json!({
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate(
                    &format!("{level} crisis {}: {}", a.transition.as_str(), a.watch),
                    HEADER_MAX_CHARS,
                ),
                "emoji": true,
            },
        }),
        json!({
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": truncate(&format!("{emoji} {}", escape(&a.figures.reason)), SECTION_MAX_CHARS),
            },
            "fields": [
                field("Level", a.level.as_str()),
                field("State", a.transition.as_str()),
                field("Watch", &watch),
                field("Observed", &volume),
                field("Top terms", &terms),
                field("Crisis kinds", &kinds),
            ],
        }),
    ];
    if !a.evidence.stories.is_empty() || !a.evidence.rising_terms.is_empty() {
        // What people say: the top stories with their counts, then the
        // terms that rose (post text escaped, never rendered as markup).
        let mut lines: Vec<String> = a
            .evidence
            .stories
            .iter()
            .take(3)
            .map(|s| {
                format!(
                    "• *{} posts* ({} reposts, first on {}): “{}”",
                    s.posts,
                    s.reposts,
                    escape(&s.first_source),
                    escape(&truncate(&s.text, 280))
                )
            })
            .collect();
        if !a.evidence.rising_terms.is_empty() {
            let rising: Vec<String> = a
                .evidence
                .rising_terms
                .iter()
                .map(|r| escape(&r.to_string()))
                .collect();
            lines.push(format!("*Rising:* {}", rising.join(", ")));
        }
        blocks.push(json!({
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": truncate(&format!("*What people say*\n{}", lines.join("\n")), SECTION_MAX_CHARS),
            },
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{
            "type": "mrkdwn",
            "text": truncate(
                &format!(
                    "Incident `{}` · window {} to {} · alert `{}`",
                    escape(&a.incident),
                    a.figures.window_start,
                    a.figures.window_end,
                    a.alert_id
                ),
                FIELD_MAX_CHARS,
            ),
        }],
    }));
    json!({
        "text": truncate(&text, TEXT_MAX_CHARS),
        "blocks": blocks,
    })
}

/// Escapes the three characters Slack's mrkdwn reserves.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most `max` characters, ending in `…` when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_and_truncate() {
        assert_eq!(escape("a<b>&c"), "a&lt;b&gt;&amp;c");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate("艾克美艾克美", 4), "艾克美…");
    }
}
