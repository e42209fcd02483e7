//! A set of named text files, each parsed on its own: the built-in set, or
//! every file with one extension in a directory (playbooks, templates).

use std::path::Path;

/// Parses `builtin` (name, text) when `dir` is empty, else every `*.{ext}`
/// file in `dir` by its stem, in name order. Every problem (an unreadable
/// file, one that does not parse) is one string, so all are reported at
/// once.
pub(crate) fn load_named<T>(
    dir: &str,
    ext: &str,
    builtin: &[(&str, &str)],
    parse: impl Fn(&str, &str) -> Result<T, String>,
) -> Result<Vec<T>, Vec<String>> {
    let mut files: Vec<(String, String)> = Vec::new();
    let mut problems = Vec::new();
    if dir.is_empty() {
        files.extend(builtin.iter().map(|(n, t)| (n.to_string(), t.to_string())));
    } else {
        let entries = std::fs::read_dir(Path::new(dir))
            .map_err(|e| vec![format!("cannot read {dir}: {e}")])?;
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().and_then(|x| x.to_str()) != Some(ext) {
                continue;
            }
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            match std::fs::read_to_string(&path) {
                Ok(t) => files.push((stem.to_string(), t)),
                Err(e) => problems.push(format!("cannot read {}: {e}", path.display())),
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for (name, text) in files {
        match parse(&name, &text) {
            Ok(v) => out.push(v),
            Err(e) => problems.push(e),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}
