//! The words of the web screens, kept in one catalogue per language (`locales/*.toml`) so that
//! translations can follow. Templates, handlers and the browser scripts name a text by its key,
//! `table.key`, e.g. `inbox.filter`; placeholders in a text are written `{name}`.

use std::collections::HashMap;
use std::fmt::{Display, Write as _};
use std::sync::LazyLock;

/// Every catalogue: its language code and its source. English comes first and is complete;
/// another language is one more file and one more line here, and falls back to English for any
/// key it lacks.
const SOURCES: &[(&str, &str)] = &[("en", include_str!("../../locales/en.toml"))];

/// The language the screens are shown in (there is no choosing one yet).
const SHOWN: &str = "en";

struct Catalogue {
    code: &'static str,
    /// Full key to text.
    texts: HashMap<String, String>,
}

static CATALOGUES: LazyLock<Vec<Catalogue>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(code, source)| Catalogue {
            code,
            texts: parse(source).unwrap_or_else(|e| {
                tracing::error!(locale = code, error = %e, "text catalogue does not parse");
                HashMap::new()
            }),
        })
        .collect()
});

/// A catalogue's texts by full key: each table's string values (anything else is skipped, and
/// the tests refuse it).
fn parse(source: &str) -> Result<HashMap<String, String>, toml::de::Error> {
    let doc: toml::Table = source.parse()?;
    let mut texts = HashMap::new();
    for (table, entries) in doc {
        let Some(entries) = entries.as_table() else {
            continue;
        };
        for (key, value) in entries {
            if let Some(text) = value.as_str() {
                texts.insert(format!("{table}.{key}"), text.to_string());
            }
        }
    }
    Ok(texts)
}

/// The text of a key in a language, falling back to English; an unknown key shows as itself
/// rather than failing the page (the tests keep every key used in the catalogue).
fn lookup<'k>(code: &str, key: &'k str) -> &'k str {
    let catalogues: &'static [Catalogue] = &CATALOGUES;
    catalogues
        .iter()
        .filter(|c| c.code == code)
        .chain(catalogues.first())
        .find_map(|c| c.texts.get(key))
        .map_or(key, String::as_str)
}

/// The text of a key. It lives as long as the key, so a literal key (as every caller writes
/// one) gives a `&'static str`.
pub(crate) fn t(key: &str) -> &str {
    lookup(SHOWN, key)
}

/// The text of a key with its `{name}` placeholders filled in. A placeholder without a value
/// stays as written, and values are inserted as they are (never read for placeholders again).
pub(crate) fn tf(key: &str, args: &[(&str, &dyn Display)]) -> String {
    fill(t(key), args)
}

fn fill(text: &str, args: &[(&str, &dyn Display)]) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            args.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (close, *v))
        });
        match value {
            Some((close, v)) => {
                let _ = write!(out, "{v}");
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The texts of a catalogue table (in the language shown) as a JSON object by full key, for a
/// page's `<script type="application/json">` block: `<` is escaped, so no text can end the block.
fn script_block(table: &str) -> String {
    let prefix = format!("{table}.");
    let catalogues: &'static [Catalogue] = &CATALOGUES;
    let texts: std::collections::BTreeMap<&str, &str> = catalogues
        .first()
        .map(|english| {
            english
                .texts
                .keys()
                .filter(|k| k.starts_with(&prefix))
                .map(|k| (k.as_str(), t(k)))
                .collect()
        })
        .unwrap_or_default();
    serde_json::to_string(&texts)
        .unwrap_or_else(|_| "{}".into())
        .replace('<', "\\u003c")
}

/// The texts app.js and activity.js show (table `script`), as JSON for the page.
pub(crate) fn script_texts() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| script_block("script"));
    &JSON
}

/// The texts of the chat widget's scripts (table `widget_script`), as JSON.
pub(crate) fn widget_script_texts() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| script_block("widget_script"));
    &JSON
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    use super::*;

    /// A text named in a template, a Rust source or a script.
    struct Use {
        key: String,
        at: String,
        /// Whether it is `tf` (placeholders filled in) rather than `t`.
        formatted: bool,
        /// For `tf`: the placeholder names the call gives.
        names: BTreeSet<String>,
    }

    fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.map(|e| e.path()).unwrap_or_default())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                files(&p, ext, out);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }

    /// Every file that names texts: the templates, this crate's Rust sources (but this file,
    /// whose tests name keys on purpose) and the browser scripts.
    fn sources() -> Vec<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        files(&root.join("templates"), "html", &mut out);
        files(&root.join("src"), "rs", &mut out);
        files(&root.join("assets"), "js", &mut out);
        out.retain(|p| !p.ends_with("src/ui/text.rs"));
        assert!(out.len() > 50, "sources not found under {}", root.display());
        out
    }

    fn is_key(k: &str) -> bool {
        k.split_once('.').is_some_and(|(table, key)| {
            [table, key].iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            })
        })
    }

    /// The text of a call's arguments after its key, up to the closing parenthesis (strings
    /// skipped, so brackets inside them do not count).
    fn call_rest(s: &str) -> &str {
        let mut depth = 1;
        let mut in_str = false;
        let mut prev = ' ';
        for (i, c) in s.char_indices() {
            if in_str {
                if c == '"' && prev != '\\' {
                    in_str = false;
                }
            } else {
                match c {
                    '"' => in_str = true,
                    '(' | '[' | '{' => depth += 1,
                    ')' | ']' | '}' => {
                        depth -= 1;
                        if depth == 0 {
                            return &s[..i];
                        }
                    }
                    _ => {}
                }
            }
            prev = c;
        }
        s
    }

    /// The placeholder names a `tf` call gives: `("name", value)` pairs in Rust and templates,
    /// `{ name: value }` in scripts.
    fn given_names(args: &str, script: bool) -> BTreeSet<String> {
        let ident = |s: &str| {
            let n: String = s
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            n
        };
        let mut names = BTreeSet::new();
        if script {
            for (i, c) in args.char_indices() {
                if c == '{' || c == ',' {
                    let rest = args[i + 1..].trim_start();
                    let name = ident(rest);
                    let after = rest[name.len()..].trim_start();
                    if !name.is_empty() && after.starts_with(':') {
                        names.insert(name);
                    }
                }
            }
        } else {
            for (i, _) in args.match_indices('(') {
                let rest = args[i + 1..].trim_start();
                if let Some(rest) = rest.strip_prefix('"') {
                    let name = ident(rest);
                    let after = rest[name.len()..].strip_prefix('"').map(str::trim_start);
                    if !name.is_empty() && after.is_some_and(|a| a.starts_with(',')) {
                        names.insert(name);
                    }
                }
            }
        }
        names
    }

    /// Every `t("…")` and `tf("…", …)` in the sources, and where Rust or a template names a
    /// text by anything but a literal key (which these tests could not check).
    fn uses() -> (Vec<Use>, Vec<String>) {
        let mut out = Vec::new();
        let mut dynamic = Vec::new();
        for path in sources() {
            let src = std::fs::read_to_string(&path).unwrap_or_default();
            let script = path.extension().is_some_and(|x| x == "js");
            let file = path.display().to_string();
            for (formatted, call) in [(false, "t("), (true, "tf(")] {
                for (i, _) in src.match_indices(call) {
                    let before = &src[..i];
                    if before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                        continue;
                    }
                    let line = before.lines().count();
                    // The key may sit on the next line once formatted.
                    let Some(rest) = src[i + call.len()..].trim_start().strip_prefix('"') else {
                        if !script && before.ends_with("text::") {
                            dynamic.push(format!("{file}:{line}"));
                        }
                        continue;
                    };
                    let key = rest.split('"').next().unwrap_or("").to_string();
                    let names = if formatted {
                        given_names(call_rest(&rest[key.len() + 1..]), script)
                    } else {
                        BTreeSet::new()
                    };
                    out.push(Use {
                        key,
                        at: format!("{file}:{line}"),
                        formatted,
                        names,
                    });
                }
            }
        }
        assert!(out.len() > 100, "too few texts found: {}", out.len());
        (out, dynamic)
    }

    fn english() -> &'static HashMap<String, String> {
        &CATALOGUES[0].texts
    }

    /// The placeholder names of a text, or why it is malformed.
    fn placeholders(text: &str) -> Result<BTreeSet<String>, String> {
        let mut names = BTreeSet::new();
        let mut rest = text;
        while let Some(i) = rest.find(['{', '}']) {
            if rest[i..].starts_with('}') {
                return Err("a `}` without `{`".into());
            }
            let after = &rest[i + 1..];
            let close = after.find('}').ok_or("a `{` without `}`")?;
            let name = &after[..close];
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(format!("`{{{name}}}` is not a placeholder name"));
            }
            names.insert(name.to_string());
            rest = &after[close + 1..];
        }
        Ok(names)
    }

    #[test]
    fn catalogues_parse_and_have_no_empty_texts() {
        for (code, source) in SOURCES {
            let doc: toml::Table = source
                .parse()
                .unwrap_or_else(|e| panic!("locales/{code}.toml: {e}"));
            for (table, entries) in &doc {
                let entries = entries
                    .as_table()
                    .unwrap_or_else(|| panic!("{code}: `{table}` is not a table"));
                for (key, value) in entries {
                    let full = format!("{table}.{key}");
                    assert!(is_key(&full), "{code}: `{full}` is not a key (a-z, 0-9, _)");
                    let text = value
                        .as_str()
                        .unwrap_or_else(|| panic!("{code}: `{full}` is not a string"));
                    assert!(!text.trim().is_empty(), "{code}: `{full}` is empty");
                }
            }
        }
        assert!(english().len() > 100);
    }

    #[test]
    fn every_key_used_is_in_the_catalogue() {
        let (uses, dynamic) = uses();
        assert!(
            dynamic.is_empty(),
            "keys that are not literals: {dynamic:?}"
        );
        let missing: Vec<String> = uses
            .into_iter()
            .filter(|u| !is_key(&u.key) || !english().contains_key(&u.key))
            .map(|u| format!("{} `{}`", u.at, u.key))
            .collect();
        assert!(
            missing.is_empty(),
            "not in locales/en.toml:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn every_catalogue_key_is_used() {
        let used: BTreeSet<String> = uses().0.into_iter().map(|u| u.key).collect();
        let mut dead: Vec<&String> = english().keys().filter(|k| !used.contains(*k)).collect();
        dead.sort();
        assert!(dead.is_empty(), "texts nothing uses: {dead:?}");
    }

    #[test]
    fn placeholders_are_well_formed_and_filled() {
        let mut wrong = BTreeMap::new();
        for (key, text) in english() {
            if let Err(e) = placeholders(text) {
                wrong.insert(key.clone(), e);
            }
        }
        for u in uses().0 {
            let Some(Ok(wanted)) = english().get(&u.key).map(|t| placeholders(t)) else {
                continue;
            };
            if !u.formatted && !wanted.is_empty() {
                wrong.insert(
                    format!("{} `{}`", u.at, u.key),
                    format!("has placeholders {wanted:?}: use tf"),
                );
            }
            if u.formatted && u.names != wanted {
                wrong.insert(
                    format!("{} `{}`", u.at, u.key),
                    format!("gives {:?}, the text has {wanted:?}", u.names),
                );
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn other_catalogues_only_translate_english_keys() {
        for c in CATALOGUES.iter().skip(1) {
            for (key, text) in &c.texts {
                let english = english().get(key);
                assert!(
                    english.is_some(),
                    "{}: `{key}` is not an English key",
                    c.code
                );
                assert_eq!(
                    english.map(|e| placeholders(e).ok()),
                    Some(placeholders(text).ok()),
                    "{}: `{key}` has other placeholders than in English",
                    c.code
                );
            }
        }
    }

    #[test]
    fn fills_placeholders_once() {
        let n = 3;
        assert_eq!(
            fill("{n} of {total} online", &[("n", &n), ("total", &"{n}")]),
            "3 of {n} online"
        );
        assert_eq!(fill("{missing} stays", &[]), "{missing} stays");
        assert_eq!(fill("a { b", &[("b", &1)]), "a { b");
        assert_eq!(t("no_such.key"), "no_such.key");
        assert_eq!(t("common.save"), "Save");
    }

    #[test]
    fn script_texts_cannot_end_their_block() {
        let json = script_block("script");
        assert!(json.starts_with('{') && !json.contains('<'));
        let back: HashMap<String, String> = serde_json::from_str(&json).unwrap_or_default();
        assert!(back.keys().all(|k| k.starts_with("script.")));
        assert_eq!(
            back.len(),
            english()
                .keys()
                .filter(|k| k.starts_with("script."))
                .count()
        );
    }
}
