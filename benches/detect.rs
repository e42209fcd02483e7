//! Detect throughput (scored posts/s) with 1,000 and 10,000 watches, and
//! the state held per watch (printed once: criterion measures time, not
//! memory). Target: detect is never the bottleneck, >= 2x the scorer's
//! posts/s at 1,000 watches. Figures go to benches/README.md.
//!
//! Detect's work is per post and per closed bin (every watch closes one
//! bin a minute of event time, posts or not), so its posts/s depend on how
//! many posts a watch sees per bin. `observe_advance` has 1.7 posts per
//! watch and bin at 1,000 watches (a quiet stream replayed fast);
//! `observe_advance_busy` the same two hours with ten times the posts, so
//! the two figures separate the cost of a post from the cost of a bin.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use vigil_detect::Detector;
use vigil_types::{AuthorId, EventTime, Hit, PostGist, PostId, ScoredPost, WatchId};

/// The allocator the `vigil` binary ships (src/main.rs).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[path = "common.rs"]
mod common;

/// `n` scored posts over 2 hours of event time, spread over the watches
/// with a skew (a few busy watches, a long quiet tail). Each carries a gist
/// as score makes it (issue 14): 60% repeat one of 40 texts (reposts and
/// copies of a few stories), 40% say something of their own, the mix of a
/// real stream; a fifth carry a hashtag.
fn stream(watches: usize, n: u64) -> Vec<ScoredPost> {
    let start = 1_767_225_600_000i64;
    let sources = ["x", "weibo", "reddit", "douyin"];
    let gist_of = |text: String, tag: bool| {
        let normalised = vigil_score::normalize(&text);
        std::sync::Arc::new(PostGist {
            story: vigil_score::story_key(&normalised),
            text: text.as_str().into(),
            tags: if tag {
                vec!["#acmefail".into()]
            } else {
                vec![]
            },
            reach: Some(500),
            ..PostGist::default()
        })
    };
    let templates: Vec<_> = (0..40)
        .map(|t| {
            gist_of(
                format!("story {t}: the acme x{t} blender broke after {t} days, refund please"),
                t % 5 == 0,
            )
        })
        .collect();
    (0..n)
        .map(|i| {
            let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
            let w = ((h % 1000) * (h % 1000) / 1000 * watches as u64 / 1000) as usize;
            ScoredPost {
                post_id: PostId::from(format!("p{i}")),
                watch: WatchId(format!("w{w}")),
                source: sources[(h % 4) as usize].to_string(),
                region: None,
                author: AuthorId::from("a"),
                published_at: EventTime(start + (i as i64 * 7_200_000) / n as i64),
                hits: vec![Hit {
                    term: format!("t{w}").into(),
                    start: 0,
                    end: 3,
                }],
                sentiment: if h % 5 == 0 { -0.5 } else { 0.2 },
                kinds: vec![],
                origin_partition: None,
                gist: if h % 10 < 6 {
                    templates[(h / 10 % 40) as usize].clone()
                } else {
                    gist_of(
                        format!("post {i} says something of its own about t{w}"),
                        h % 5 == 0,
                    )
                },
            }
        })
        .collect()
}

fn detect(c: &mut Criterion) {
    let mut group = c.benchmark_group("detect");
    // (bench name, watches, posts in the 2 hours)
    let cases = [
        ("observe_advance", 1_000usize, 200_000u64),
        ("observe_advance", 10_000, 200_000),
        ("observe_advance_busy", 1_000, 2_000_000),
    ];
    for (name, n, volume) in cases {
        let settings = common::settings(n);
        let posts = stream(n, volume);
        let now = EventTime(posts.last().expect("non-empty").published_at.0 + 1);
        {
            let mut d = Detector::new(&settings);
            let (mut s, mut u) = (Vec::new(), Vec::new());
            for p in &posts {
                d.observe(p, now);
            }
            d.advance(&mut s, &mut u);
            let total: usize = (0..d.watch_count()).map(|i| d.watch_state_bytes(i)).sum();
            eprintln!(
                "detect/{name}/{n} watches: {:.0} bytes of state per watch after 2 h of event time ({volume} posts)",
                total as f64 / n as f64
            );
        }
        group.throughput(Throughput::Elements(posts.len() as u64));
        // Ten samples of the busy stream take as long as a hundred of the
        // others.
        group.sample_size(if volume > 200_000 { 10 } else { 100 });
        // By reference: dropping the detector at the end (its last bins,
        // once, at shutdown) is not timed; bins evicted on the way are.
        group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
            b.iter_batched_ref(
                || Detector::new(&settings),
                |d| {
                    let (mut s, mut u) = (Vec::new(), Vec::new());
                    for chunk in posts.chunks(512) {
                        for p in chunk {
                            d.observe(p, now);
                        }
                        d.advance(&mut s, &mut u);
                    }
                    s.len()
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, detect);
criterion_main!(benches);
