//! Sentiment diagnostics that print tables rather than check anything
//! (ablation of each rule, the Chinese sets, Vigil-vs-VADER disagreements,
//! a rough speed). They read ../shared/data. Run with
//! `cargo run --release -p vigil-eval --example sentiment_report -- [ablation|disagreements|zh_sets|rough_speed]`
//! (no argument runs all four). The checked figures live in
//! tests/sentiment_data.rs.

use std::path::PathBuf;

use vigil_eval::sentiment::{evaluate_file, Format};
use vigil_score::SentimentScorer;

fn ablation() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    if !dir.is_dir() {
        eprintln!("SKIP: {} absent", dir.display());
        return;
    }
    // `SentimentRules` values, reached through `rules()`.
    let all = SentimentScorer::new().rules();
    let vader = SentimentScorer::vader().rules();
    let with = |base, f: fn(&mut _)| {
        let mut r = base;
        f(&mut r);
        r
    };
    let variants = [
        ("vader rules", vader),
        ("+inflections", with(vader, |r| r.inflections = true)),
        ("+extra rules", with(vader, |r| r.extra_rules = true)),
        ("+vigil lexicon", with(vader, |r| r.vigil_lexicon = true)),
        ("all", all),
        ("all - inflections", with(all, |r| r.inflections = false)),
        ("all - extra rules", with(all, |r| r.extra_rules = false)),
        (
            "all - vigil lexicon",
            with(all, |r| r.vigil_lexicon = false),
        ),
    ];
    let sets = [
        ("tweets", "vader/icwsm2014/tweets_GroundTruth.txt"),
        (
            "movie",
            "vader/icwsm2014/movieReviewSnippets_GroundTruth.txt",
        ),
        (
            "nyt",
            "vader/icwsm2014/nytEditorialSnippets_GroundTruth.txt",
        ),
    ];
    println!(
        "| rules | {} |",
        sets.map(|s| format!("{0} wF1 | {0} r", s.0)).join(" | ")
    );
    for (name, rules) in variants {
        let scorer = SentimentScorer::with_rules(rules);
        let mut cells = Vec::new();
        for (_, file) in sets {
            let path = dir.join(file);
            if !path.exists() {
                cells.push("- | -".to_string());
                continue;
            }
            let r = evaluate_file(&path, Format::Vader, &scorer).unwrap();
            cells.push(format!(
                "{:.3} | {:.3}",
                r.weighted_f1,
                r.pearson_r.unwrap_or(f64::NAN)
            ));
        }
        println!("| {name} | {} |", cells.join(" | "));
    }
}

/// Prints the rows where the full rules and VADER's rules disagree on the
/// class (set `VIGIL_SENTIMENT_SET` to a file under shared/data).
fn disagreements() {
    use vigil_eval::sentiment::{load, predict};
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    if let Ok(text) = std::env::var("VIGIL_TEXT") {
        let t = vigil_score::normalize(&text);
        for w in std::iter::once(t.as_str()).chain(t.split_whitespace()) {
            let (a, b) = (
                SentimentScorer::vader().score(w),
                SentimentScorer::new().score(w),
            );
            println!("= {a:.3} {b:.3} {w}");
        }
    }
    let Ok(file) = std::env::var("VIGIL_SENTIMENT_SET") else {
        return;
    };
    let path = dir.join(file);
    let format = Format::detect(&path).unwrap();
    let (a, b) = (SentimentScorer::vader(), SentimentScorer::new());
    for row in load(&path, format).unwrap() {
        let t = vigil_score::normalize(&row.text);
        let (ca, cb) = (a.score(&t), b.score(&t));
        let (pa, pb) = (predict(format, ca), predict(format, cb));
        if pa != pb {
            let mark = if pb == row.gold {
                "+"
            } else if pa == row.gold {
                "-"
            } else {
                "?"
            };
            println!("{mark} gold {} vader {ca:.3} vigil {cb:.3} {t}", row.gold);
        }
    }
}

/// Prints accuracy and macro-F1 on the Chinese sets, plus an extra CSV named
/// by `VIGIL_SENTIMENT_DEV` (e.g. the development split written by
/// `scripts/sentiment/derive_zh.py --dev-out`).
fn zh_sets() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    let mut paths: Vec<PathBuf> = [
        "chnsenticorp_htl_all.csv",
        "waimai_10k.csv",
        "online_shopping_10_cats.csv",
    ]
    .iter()
    .map(|f| dir.join("zh-sentiment").join(f))
    .collect();
    let scorer = SentimentScorer::new();
    if let Ok(dev) = std::env::var("VIGIL_SENTIMENT_DEV") {
        if std::env::var("VIGIL_DUMP").is_ok() {
            for row in
                vigil_eval::sentiment::load(std::path::Path::new(&dev), Format::ZhCsv).unwrap()
            {
                let t = vigil_score::normalize(&row.text);
                let c = scorer.score(&t);
                if (c > 0.0) != (row.gold == 1) {
                    println!("! gold {} {c:.3} {t}", row.gold);
                }
            }
        }
        paths.insert(0, PathBuf::from(dev));
    }
    for path in paths.iter().filter(|p| p.exists()) {
        let r = evaluate_file(path, Format::ZhCsv, &scorer).unwrap();
        let m = &r.confusion.matrix;
        println!(
            "| {} | {} | {:.3} | {:.3} | {m:?}",
            path.file_name().unwrap().to_string_lossy(),
            r.n,
            r.accuracy,
            r.macro_f1
        );
    }
}

/// Prints a rough posts/s of `SentimentScorer::score` on normalised texts of
/// the shared sets (no assertion: the criterion benches are the reference).
fn rough_speed() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    let scorer = SentimentScorer::new();
    for (file, format) in [
        ("vader/icwsm2014/tweets_GroundTruth.txt", Format::Vader),
        ("zh-sentiment/waimai_10k.csv", Format::ZhCsv),
    ] {
        let path = dir.join(file);
        if !path.exists() {
            eprintln!("SKIP: {} absent", path.display());
            continue;
        }
        let texts: Vec<String> = vigil_eval::sentiment::load(&path, format)
            .unwrap()
            .iter()
            .map(|r| vigil_score::normalize(&r.text))
            .collect();
        let start = std::time::Instant::now();
        let mut sum = 0.0f32;
        for _ in 0..20 {
            for t in &texts {
                sum += scorer.score(t);
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{file}: {:.0} posts/s ({sum:.1})",
            20.0 * texts.len() as f64 / secs
        );
    }
}

fn main() {
    let which = std::env::args().nth(1);
    let all = which.is_none();
    let is = |n: &str| all || which.as_deref() == Some(n);
    if is("ablation") {
        ablation();
    }
    if is("disagreements") {
        disagreements();
    }
    if is("zh_sets") {
        zh_sets();
    }
    if is("rough_speed") {
        rough_speed();
    }
}
