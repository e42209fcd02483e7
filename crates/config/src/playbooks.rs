//! Crisis playbooks (issue 15 item 5): a Markdown checklist per crisis
//! kind, optionally per level, read from `incidents.playbooks_dir` (or the
//! built-in ones in `config/playbooks/`). A new incident gets the checklist
//! that matches it; ticking a step is recorded in its timeline.
//!
//! A file is named `<kind>.md`, `<kind>.<level>.md`, `default.md` or
//! `default.<level>.md`. Its first `# ` heading is the title; each list item
//! (`- [ ] step`, `- step`, `* step`, `1. step`) is a step; other lines are
//! notes for the people who edit it.

use vigil_types::{CrisisKind, Level};

/// Most steps one playbook has.
pub const MAX_PLAYBOOK_STEPS: usize = 50;

/// Longest step, in characters.
pub const MAX_STEP_CHARS: usize = 500;

/// One playbook: a checklist of steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Playbook {
    /// The file's stem (`product_safety.major`).
    pub name: String,
    /// The crisis kind it is for; `None` for `default`.
    pub kind: Option<CrisisKind>,
    /// The level it is for; `None` for every level.
    pub level: Option<Level>,
    /// Its first `# ` heading, or its name.
    pub title: String,
    /// The steps, in order.
    pub steps: Vec<String>,
}

const BUILTIN: [(&str, &str); 8] = [
    (
        "product_safety",
        include_str!("../../../config/playbooks/product_safety.md"),
    ),
    (
        "product_safety.major",
        include_str!("../../../config/playbooks/product_safety.major.md"),
    ),
    (
        "service_outage",
        include_str!("../../../config/playbooks/service_outage.md"),
    ),
    ("legal", include_str!("../../../config/playbooks/legal.md")),
    (
        "data_breach",
        include_str!("../../../config/playbooks/data_breach.md"),
    ),
    (
        "negative_media",
        include_str!("../../../config/playbooks/negative_media.md"),
    ),
    (
        "disaster",
        include_str!("../../../config/playbooks/disaster.md"),
    ),
    (
        "default",
        include_str!("../../../config/playbooks/default.md"),
    ),
];

/// Parses the playbook file `name` (its stem) with text `text`.
pub fn parse_playbook(name: &str, text: &str) -> Result<Playbook, String> {
    let (kind_part, level_part) = match name.split_once('.') {
        Some((k, l)) => (k, Some(l)),
        None => (name, None),
    };
    let kind = match kind_part {
        "default" => None,
        k => Some(k.parse::<CrisisKind>().map_err(|_| {
            format!(
                "`{name}`: the name is not `<kind>[.<level>]` or `default[.<level>]` (kinds: {})",
                CrisisKind::ALL.map(|k| k.as_str()).join(", ")
            )
        })?),
    };
    let level = level_part
        .map(|l| {
            l.parse::<Level>()
                .map_err(|_| format!("`{name}`: `{l}` is not minor, moderate or major"))
        })
        .transpose()?;
    let mut title = None;
    let mut steps = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(h) = line.strip_prefix("# ") {
            title.get_or_insert_with(|| h.trim().to_string());
            continue;
        }
        let Some(step) = list_item(line) else {
            continue;
        };
        if step.is_empty() {
            return Err(format!("`{name}` line {}: an empty step", n + 1));
        }
        if step.chars().count() > MAX_STEP_CHARS {
            return Err(format!(
                "`{name}` line {}: a step longer than {MAX_STEP_CHARS} characters",
                n + 1
            ));
        }
        steps.push(step.to_string());
    }
    if steps.is_empty() {
        return Err(format!(
            "`{name}`: no steps (write each as a list item: `- [ ] step`)"
        ));
    }
    if steps.len() > MAX_PLAYBOOK_STEPS {
        return Err(format!(
            "`{name}`: {} steps, at most {MAX_PLAYBOOK_STEPS}",
            steps.len()
        ));
    }
    Ok(Playbook {
        name: name.to_string(),
        kind,
        level,
        title: title.unwrap_or_else(|| name.to_string()),
        steps,
    })
}

/// The text of a Markdown list item (`- [ ] x`, `- [x] x`, `- x`, `* x`,
/// `1. x`), if `line` is one.
fn list_item(line: &str) -> Option<&str> {
    let rest = if let Some(r) = line.strip_prefix("- ").or(line.strip_prefix("* ")) {
        r
    } else {
        let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return None;
        }
        line[digits..].strip_prefix(". ")?
    };
    let rest = rest.trim_start();
    Some(
        rest.strip_prefix("[ ]")
            .or(rest.strip_prefix("[x]"))
            .or(rest.strip_prefix("[X]"))
            .unwrap_or(rest)
            .trim(),
    )
}

/// The built-in playbooks (`config/playbooks/`), or every `*.md` file in
/// `dir`, by name. Each problem is one string.
pub(crate) fn load_playbooks(dir: &str) -> Result<Vec<Playbook>, Vec<String>> {
    crate::files::load_named(dir, "md", &BUILTIN, parse_playbook)
}

impl Playbook {
    /// The playbook for an incident of `kinds` at `level`: for the first
    /// kind that has one, its level's playbook, else its own; without one,
    /// `default.<level>`, else `default`.
    pub fn matching<'a>(
        playbooks: &'a [Playbook],
        kinds: &[CrisisKind],
        level: Level,
    ) -> Option<&'a Playbook> {
        let find = |kind: Option<CrisisKind>| {
            playbooks
                .iter()
                .find(|p| p.kind == kind && p.level == Some(level))
                .or_else(|| {
                    playbooks
                        .iter()
                        .find(|p| p.kind == kind && p.level.is_none())
                })
        };
        kinds
            .iter()
            .find_map(|k| find(Some(*k)))
            .or_else(|| find(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_playbook_parses() {
        let all = load_playbooks("").unwrap();
        assert_eq!(all.len(), BUILTIN.len());
        for kind in CrisisKind::ALL {
            assert!(
                all.iter().any(|p| p.kind == Some(kind)),
                "no playbook for {kind}"
            );
        }
        let ps = all.iter().find(|p| p.name == "product_safety").unwrap();
        assert_eq!(ps.title, "Product quality or safety");
        assert_eq!(
            ps.steps[0],
            "Name the incident lead and the communications lead"
        );
    }

    #[test]
    fn items_titles_and_names() {
        let p = parse_playbook(
            "legal.major",
            "Notes first.\n# Legal, major\n# Second heading ignored\n- [ ] one\n- [x] two\n* three\n12. four\n-not an item\n  - five  \n",
        )
        .unwrap();
        assert_eq!(p.title, "Legal, major");
        assert_eq!(
            (p.kind, p.level),
            (Some(CrisisKind::Legal), Some(Level::Major))
        );
        assert_eq!(p.steps, ["one", "two", "three", "four", "five"]);
        for (name, text, want) in [
            ("recall", "- x", "is not `<kind>[.<level>]`"),
            (
                "legal.huge",
                "- x",
                "`huge` is not minor, moderate or major",
            ),
            ("legal", "# Only a title", "no steps"),
            ("legal", "- [ ] ", "an empty step"),
        ] {
            let e = parse_playbook(name, text).unwrap_err();
            assert!(e.contains(want), "{name}: {e}");
        }
        let long = format!("- {}", "x".repeat(MAX_STEP_CHARS + 1));
        assert!(parse_playbook("legal", &long)
            .unwrap_err()
            .contains("longer than"));
        let many = "- x\n".repeat(MAX_PLAYBOOK_STEPS + 1);
        assert!(parse_playbook("legal", &many)
            .unwrap_err()
            .contains("at most"));
    }

    #[test]
    fn the_most_specific_playbook_matches() {
        let all = load_playbooks("").unwrap();
        let m = |kinds: &[CrisisKind], level| {
            Playbook::matching(&all, kinds, level).map(|p| p.name.as_str())
        };
        assert_eq!(
            m(&[CrisisKind::ProductSafety], Level::Major),
            Some("product_safety.major")
        );
        assert_eq!(
            m(&[CrisisKind::ProductSafety], Level::Minor),
            Some("product_safety")
        );
        assert_eq!(
            m(
                &[CrisisKind::Legal, CrisisKind::ProductSafety],
                Level::Major
            ),
            Some("legal")
        );
        assert_eq!(m(&[], Level::Minor), Some("default"));
        assert_eq!(Playbook::matching(&[], &[], Level::Minor), None);
    }

    #[test]
    fn a_directory_replaces_the_built_ins_and_reports_every_problem() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("legal.md"), "# L\n- [ ] call counsel\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let ok = load_playbooks(dir.path().to_str().unwrap()).unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].steps, ["call counsel"]);
        std::fs::write(dir.path().join("recall.md"), "- x").unwrap();
        std::fs::write(dir.path().join("legal.major.md"), "nothing").unwrap();
        let problems = load_playbooks(dir.path().to_str().unwrap()).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(load_playbooks("/no/such/dir").unwrap_err()[0].contains("cannot read /no/such/dir"));
    }
}
