//! Shared bench setup: the fixed corpus in benches/data/ and synthetic watch
//! sets of a given size (~20 terms each, EN and ZH).

use std::fmt::Write as _;

use vigil_config::Settings;
use vigil_ingest::Ingestor;
use vigil_types::Post;

/// The fixed corpus (5,000 posts written by `vigil gen --seed 42`).
#[allow(dead_code)] // Not every bench uses it.
pub fn corpus() -> Vec<Post> {
    let text = include_str!("data/posts.jsonl");
    let s = Settings::from_toml_str("[[watches]]\nid = \"w\"\nterms = [\"x\"]\n", "bench", &[])
        .expect("bench config");
    let mut ing = Ingestor::new(&s.ingest);
    text.lines()
        .filter_map(|l| {
            ing.parse_line(l.as_bytes(), vigil_types::EventTime::wall_clock())
                .ok()
        })
        .collect()
}

const SYL: &[&str] = &[
    "ka", "lo", "mi", "re", "su", "ta", "no", "vi", "ze", "pu", "ra", "xo", "de", "fi", "gu", "hy",
];
const HAN: &[char] = &[
    '山', '海', '云', '石', '金', '木', '水', '火', '光', '影', '风', '雷',
];

/// `n` watches of about 20 terms each. The first 100 watches also carry the
/// corpus's own brand names (from benches/data/watches.toml), so posts hit.
pub fn settings(n: usize) -> Settings {
    let corpus_watches = include_str!("data/watches.toml");
    let brands: Vec<String> = corpus_watches
        .lines()
        .filter(|l| l.starts_with("terms = "))
        .map(|l| l.trim_start_matches("terms = ").to_string())
        .collect();
    let mut cfg = String::new();
    for i in 0..n {
        let mut terms: Vec<String> = Vec::new();
        if let Some(b) = brands.get(i) {
            terms.push(b.trim_matches(|c| c == '[' || c == ']').to_string());
        }
        for j in 0..(20 - 2 * usize::from(i < brands.len())) {
            let k = i * 31 + j * 7;
            if j % 3 == 2 {
                let s: String = (0..3).map(|x| HAN[(k / (x + 1) + x) % HAN.len()]).collect();
                terms.push(format!("\"{s}{i}\""));
            } else {
                let s: String = (0..3)
                    .map(|x| SYL[(k / (x + 1) + x * 5) % SYL.len()])
                    .collect();
                terms.push(format!("\"{s}{i}x{j}\""));
            }
        }
        let _ = writeln!(
            cfg,
            "[[watches]]\nid = \"w{i}\"\nterms = [{}]\n",
            terms.join(", ")
        );
    }
    Settings::from_toml_str(&cfg, "bench", &[]).expect("bench watches are valid")
}
