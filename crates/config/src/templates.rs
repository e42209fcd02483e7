//! Status-update templates (issue 15 item 6): holding statements per crisis
//! kind and language, with placeholders for the incident's facts, read from
//! `incidents.templates_dir` (or the built-in ones in `config/templates/`).
//!
//! A file is named `<kind>.<lang>.txt` or `default.<lang>.txt` (`lang`: a
//! two-letter code, optionally with a region: `zh`, `en`, `zh-tw`). Its text
//! is the statement; `{name}` is replaced by the incident's value (see
//! [`PLACEHOLDERS`]) and `{{` and `}}` are literal braces.

use vigil_types::CrisisKind;

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 9] = [
    "watch",
    "level",
    "kind",
    "title",
    "opened_at",
    "now",
    "next_update",
    "observed",
    "baseline",
];

/// Longest template, in characters.
pub const MAX_TEMPLATE_CHARS: usize = 4096;

/// One template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// The file's stem (`product_safety.zh`).
    pub name: String,
    /// The crisis kind it is for; `None` for `default`.
    pub kind: Option<CrisisKind>,
    /// Its language code.
    pub lang: String,
    /// The text, with placeholders.
    pub text: String,
}

const BUILTIN: [(&str, &str); 14] = [
    (
        "default.en",
        include_str!("../../../config/templates/default.en.txt"),
    ),
    (
        "default.zh",
        include_str!("../../../config/templates/default.zh.txt"),
    ),
    (
        "product_safety.en",
        include_str!("../../../config/templates/product_safety.en.txt"),
    ),
    (
        "product_safety.zh",
        include_str!("../../../config/templates/product_safety.zh.txt"),
    ),
    (
        "service_outage.en",
        include_str!("../../../config/templates/service_outage.en.txt"),
    ),
    (
        "service_outage.zh",
        include_str!("../../../config/templates/service_outage.zh.txt"),
    ),
    (
        "legal.en",
        include_str!("../../../config/templates/legal.en.txt"),
    ),
    (
        "legal.zh",
        include_str!("../../../config/templates/legal.zh.txt"),
    ),
    (
        "data_breach.en",
        include_str!("../../../config/templates/data_breach.en.txt"),
    ),
    (
        "data_breach.zh",
        include_str!("../../../config/templates/data_breach.zh.txt"),
    ),
    (
        "negative_media.en",
        include_str!("../../../config/templates/negative_media.en.txt"),
    ),
    (
        "negative_media.zh",
        include_str!("../../../config/templates/negative_media.zh.txt"),
    ),
    (
        "disaster.en",
        include_str!("../../../config/templates/disaster.en.txt"),
    ),
    (
        "disaster.zh",
        include_str!("../../../config/templates/disaster.zh.txt"),
    ),
];

fn valid_lang(l: &str) -> bool {
    let (code, region) = match l.split_once('-') {
        Some((c, r)) => (c, Some(r)),
        None => (l, None),
    };
    code.len() == 2
        && code.chars().all(|c| c.is_ascii_lowercase())
        && region.is_none_or(|r| {
            (2..=4).contains(&r.len()) && r.chars().all(|c| c.is_ascii_alphanumeric())
        })
}

/// The pieces of a template: literal text and placeholder names, in order.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Brace(char),
    Field(&'a str),
}

fn pieces(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        out.push(Piece::Text(&rest[..i]));
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push(Piece::Brace(tail.as_bytes()[0] as char));
            rest = &tail[2..];
        } else if tail.starts_with('}') {
            return Err("a lone `}` (write `}}` for a brace)".into());
        } else {
            let end = tail
                .find('}')
                .ok_or_else(|| "a `{` without its `}` (write `{{` for a brace)".to_string())?;
            let name = &tail[1..end];
            if !PLACEHOLDERS.contains(&name) {
                return Err(format!(
                    "unknown placeholder `{{{name}}}` (known: {})",
                    PLACEHOLDERS.join(", ")
                ));
            }
            out.push(Piece::Field(name));
            rest = &tail[end + 1..];
        }
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// Parses the template file `name` (its stem) with text `text`.
pub fn parse_template(name: &str, text: &str) -> Result<Template, String> {
    let Some((kind_part, lang)) = name.split_once('.') else {
        return Err(format!(
            "`{name}`: the name is not `<kind>.<lang>` or `default.<lang>`"
        ));
    };
    let kind = match kind_part {
        "default" => None,
        k => Some(k.parse::<CrisisKind>().map_err(|_| {
            format!(
                "`{name}`: `{k}` is not `default` or a crisis kind ({})",
                CrisisKind::ALL.map(|k| k.as_str()).join(", ")
            )
        })?),
    };
    if !valid_lang(lang) {
        return Err(format!(
            "`{name}`: `{lang}` is not a language code like en, zh or zh-tw"
        ));
    }
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("`{name}`: empty"));
    }
    if text.chars().count() > MAX_TEMPLATE_CHARS {
        return Err(format!(
            "`{name}`: longer than {MAX_TEMPLATE_CHARS} characters"
        ));
    }
    pieces(text).map_err(|e| format!("`{name}`: {e}"))?;
    Ok(Template {
        name: name.to_string(),
        kind,
        lang: lang.to_string(),
        text: text.to_string(),
    })
}

impl Template {
    /// The text with each placeholder replaced by `value(name)`.
    pub fn render(&self, value: &dyn Fn(&str) -> String) -> String {
        // Parsed when loaded, so it parses.
        let Ok(pieces) = pieces(&self.text) else {
            return self.text.clone();
        };
        let mut out = String::with_capacity(self.text.len() + 64);
        for p in pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Brace(c) => out.push(c),
                Piece::Field(f) => out.push_str(&value(f)),
            }
        }
        out
    }

    /// The templates for an incident of `kinds`: those of its kinds first
    /// (in the order of `kinds`), then the default ones.
    pub fn matching<'a>(templates: &'a [Template], kinds: &[CrisisKind]) -> Vec<&'a Template> {
        let mut out: Vec<&Template> = Vec::new();
        for k in kinds {
            out.extend(templates.iter().filter(|t| t.kind == Some(*k)));
        }
        out.extend(templates.iter().filter(|t| t.kind.is_none()));
        out
    }
}

/// The built-in templates (`config/templates/`), or every `*.txt` file in
/// `dir`, by name. Each problem is one string.
pub(crate) fn load_templates(dir: &str) -> Result<Vec<Template>, Vec<String>> {
    crate::files::load_named(dir, "txt", &BUILTIN, parse_template)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_template_parses_in_english_and_chinese() {
        let all = load_templates("").unwrap();
        assert_eq!(all.len(), BUILTIN.len());
        for kind in CrisisKind::ALL {
            for lang in ["en", "zh"] {
                assert!(
                    all.iter().any(|t| t.kind == Some(kind) && t.lang == lang),
                    "no {kind}.{lang}"
                );
            }
        }
    }

    #[test]
    fn placeholders_render_and_are_checked() {
        let t = parse_template("legal.en", "{watch} at {level}: {{literal}} {now}.\n").unwrap();
        let out = t.render(&|f| match f {
            "watch" => "acme".into(),
            "level" => "major".into(),
            _ => format!("<{f}>"),
        });
        assert_eq!(out, "acme at major: {literal} <now>.");
        for (name, text, want) in [
            ("legal.en", "{wach}", "unknown placeholder `{wach}`"),
            ("legal.en", "open {watch", "without its `}`"),
            ("legal.en", "close }", "a lone `}`"),
            ("legal.en", "  ", "empty"),
            ("legal", "x", "is not `<kind>.<lang>`"),
            (
                "recall.en",
                "x",
                "`recall` is not `default` or a crisis kind",
            ),
            ("legal.english", "x", "is not a language code"),
        ] {
            let e = parse_template(name, text).unwrap_err();
            assert!(e.contains(want), "{name} {text:?}: {e}");
        }
        assert!(parse_template("default.zh-tw", "您好").is_ok());
    }

    #[test]
    fn matching_puts_the_kind_first() {
        let all = load_templates("").unwrap();
        let names: Vec<&str> = Template::matching(&all, &[CrisisKind::Legal])
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names, ["legal.en", "legal.zh", "default.en", "default.zh"]);
    }

    #[test]
    fn a_directory_replaces_the_built_ins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("default.en.txt"), "Hello {watch}").unwrap();
        assert_eq!(
            load_templates(dir.path().to_str().unwrap()).unwrap().len(),
            1
        );
        std::fs::write(dir.path().join("default.fr.txt"), "{oops}").unwrap();
        let e = load_templates(dir.path().to_str().unwrap()).unwrap_err();
        assert!(e[0].contains("unknown placeholder"), "{e:?}");
    }
}
