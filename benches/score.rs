//! Score throughput (posts/s) for 10, 1,000 and 10,000 watches of ~20 terms
//! each over the fixed corpus, and, in the same group, the raw aho-corasick
//! `find_iter` over the same normalised text with the same automaton: the
//! physical baseline the scorer is compared with (target at 1,000 watches:
//! >= 50% of the raw scan's posts/s). Figures go to benches/README.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// The allocator the `vigil` binary ships (src/main.rs): the scorer's
/// per-post allocations cost what they cost in production.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use vigil_score::{normalize, ScoreStats, Scorer, Scratch};

#[path = "common.rs"]
mod common;

fn score(c: &mut Criterion) {
    let posts = common::corpus();
    let normalised: Vec<String> = posts.iter().map(|p| normalize(&p.text)).collect();
    let mut group = c.benchmark_group("score");
    group.throughput(Throughput::Elements(posts.len() as u64));
    for n in [10usize, 1_000, 10_000] {
        let settings = common::settings(n);
        let scorer = Scorer::new(&settings).expect("automaton builds");
        eprintln!(
            "score/{n} watches: {} patterns, automaton {} bytes",
            scorer.matcher().pattern_count(),
            scorer.matcher().memory_usage()
        );
        group.bench_with_input(BenchmarkId::new("scorer", n), &n, |b, _| {
            let mut scratch = Scratch::default();
            let mut out = Vec::new();
            b.iter(|| {
                let mut stats = ScoreStats::default();
                out.clear();
                for p in &posts {
                    scorer.score(p, &mut scratch, &mut stats, &mut out);
                }
                stats.matched
            })
        });
        let ac = scorer.matcher().automaton();
        group.bench_with_input(BenchmarkId::new("raw_find_iter", n), &n, |b, _| {
            b.iter(|| {
                normalised
                    .iter()
                    .map(|t| ac.find_iter(t).count())
                    .sum::<usize>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, score);
criterion_main!(benches);
