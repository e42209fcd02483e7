//! The async score runner: Post batches in, ScoredPost batches out.

use std::{collections::BTreeMap, sync::Arc, time::Instant};

use arc_swap::ArcSwap;

use tracing::info;
use vigil_telemetry::{LatencyRecorder, Metrics, Percentiles};
use vigil_transport::{Consumer, Producer, Record, Stream, TransportError};
use vigil_types::{EventTime, Post, Scored, ScoredPost, StreamClock};

use crate::{ScoreStats, Scorer, Scratch};

/// Totals of one score run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScoreTotals {
    /// Posts scored.
    pub scored: u64,
    /// Posts that matched at least one watch.
    pub matched: u64,
    /// ScoredPost records sent.
    pub records: u64,
    /// How long scoring a batch took (scoring, the clock records and the
    /// sends), for the run summary.
    pub batch_latency: Percentiles,
}

/// Runs the score stage until its input ends. Shutdown reaches it through
/// the input, as it does detect and alert: embedded, cancellation stops
/// ingest, whose stream closes once score has drained what is in flight;
/// in Kafka mode the consumer ends on the process's cancellation. The scorer is loaded once per batch from `scorer`,
/// so a reload (a new automaton built off the hot path and swapped in)
/// takes effect at the next batch. Each batch's matches are followed by
/// its event-time clock ([`Scored::Clock`]: per posts partition, the newest
/// and the oldest event time read, matched or not) on every output
/// partition.
pub async fn run_score<C, P>(
    scorer: Arc<ArcSwap<Scorer>>,
    mut input: C,
    mut output: P,
    metrics: Metrics,
) -> Result<ScoreTotals, TransportError>
where
    C: Consumer<Post>,
    P: Producer<Scored>,
{
    let mut memory = 0usize;
    let received = metrics
        .transport_received_messages
        .with_label_values(&[Stream::Posts.as_str()]);
    let sent = metrics
        .transport_sent_messages
        .with_label_values(&[Stream::Scored.as_str()]);
    let mut scratch = Scratch::default();
    let mut totals = ScoreTotals::default();
    let mut latency = LatencyRecorder::new();
    let mut out: Vec<ScoredPost> = Vec::new();
    while let Some(batch) = input.recv().await? {
        let started = Instant::now();
        let scorer = scorer.load_full();
        if scorer.matcher().memory_usage() != memory {
            memory = scorer.matcher().memory_usage();
            metrics.score_automaton_memory.set(memory as i64);
        }
        received.inc_by(batch.len() as u64);
        let mut stats = ScoreStats::default();
        out.clear();
        // Per posts partition: the oldest and newest event time read,
        // matched or not.
        let mut clocks: BTreeMap<i32, (EventTime, EventTime)> = BTreeMap::new();
        for d in &batch {
            let before = out.len();
            scorer.score(&d.value, &mut scratch, &mut stats, &mut out);
            for s in &mut out[before..] {
                s.origin_partition = Some(d.position.partition);
            }
            let t = d.value.published_at;
            let c = clocks.entry(d.position.partition).or_insert((t, t));
            *c = (c.0.min(t), c.1.max(t));
        }
        if scorer.per_term_metrics() {
            for s in &out {
                for h in &s.hits {
                    metrics
                        .score_term_hits
                        .with_label_values(&[s.watch.as_str(), &h.term])
                        .inc();
                }
            }
        }
        let mut records: Vec<Record<Scored>> = out
            .drain(..)
            .map(|s| Record::new(s.watch.0.clone(), Scored::Post(s)))
            .collect();
        let n = records.len() as u64;
        // After the batch's matches, so it never makes them late; to every
        // partition, since detect's watermark runs per partition.
        for (origin, (first, clock)) in clocks {
            for p in 0..output.partitions() {
                records.push(Record::to_partition(
                    p,
                    "",
                    Scored::Clock(StreamClock {
                        clock,
                        first: Some(first),
                        origin_partition: Some(origin),
                    }),
                ));
            }
        }
        output.send(records).await?;
        let positions: Vec<_> = batch.iter().map(|d| d.position).collect();
        input.ack(&positions).await?;
        // Emit once per batch from the stats value.
        sent.inc_by(n);
        metrics.score_scored_posts.inc_by(stats.scored);
        metrics.score_matched_posts.inc_by(stats.matched);
        for (w, hits) in &stats.hits_by_watch {
            metrics
                .score_keyword_hits
                .with_label_values(&[scorer.watch_id(*w).as_str()])
                .inc_by(*hits);
        }
        let took = started.elapsed();
        metrics.score_batch_duration.observe(took.as_secs_f64());
        latency.record(took);
        totals.scored += stats.scored;
        totals.matched += stats.matched;
        totals.records += n;
    }
    output.flush().await?;
    totals.batch_latency = latency.percentiles();
    info!(
        scored = totals.scored,
        matched = totals.matched,
        "Score finished."
    );
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use vigil_config::Settings;
    use vigil_transport::memory_stream;

    use super::*;
    use crate::scorer::tests::post;

    /// Scores three posts with `score.per_term_metrics` set as given and
    /// returns the metrics page.
    async fn metrics_after_scoring(per_term: bool) -> String {
        let toml = format!(
            "[score]\nper_term_metrics = {per_term}\n\
             [[watches]]\nid = \"acme\"\nterms = [\"acme\", \"艾克美\"]\n\
             [[watches]]\nid = \"zed\"\nterms = [\"zed\"]\n"
        );
        let settings = Settings::from_toml_str(&toml, "t.toml", &[]).unwrap();
        let scorer = Arc::new(ArcSwap::from_pointee(Scorer::new(&settings).unwrap()));
        let (mut posts, posts_rx) = memory_stream(4);
        let (scored, _scored_rx) = memory_stream(16);
        posts
            .send(vec![
                Record::new("p1", post("acme broke, acme again")),
                Record::new("p2", post("艾克美 漏电")),
                Record::new("p3", post("zed is fine")),
            ])
            .await
            .unwrap();
        drop(posts);
        let metrics = Metrics::new();
        run_score(scorer, posts_rx, scored, metrics.clone())
            .await
            .unwrap();
        metrics.render()
    }

    #[tokio::test]
    async fn hits_are_counted_per_term_only_when_configured() {
        let on = metrics_after_scoring(true).await;
        for line in [
            r#"vigil_score_term_hits_total{term="acme",watch="acme"} 2"#,
            r#"vigil_score_term_hits_total{term="艾克美",watch="acme"} 1"#,
            r#"vigil_score_term_hits_total{term="zed",watch="zed"} 1"#,
        ] {
            assert!(on.contains(line), "missing {line} in\n{on}");
        }
        let off = metrics_after_scoring(false).await;
        assert!(!off.contains("vigil_score_term_hits_total{"), "{off}");
        // The per-watch count is there either way.
        assert!(off.contains(r#"vigil_score_keyword_hits_total{watch="acme"} 3"#));
    }
}
