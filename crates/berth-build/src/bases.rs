//! The images a Dockerfile builds from, read before the build starts so that each is checked by
//! the rule for the images an application may run (`ImageReference::check_runnable`) and found
//! on this engine: a build never reaches another application's image, and never pulls from a
//! registry by accident.
//!
//! Read: every `FROM` (after the `ARG` defaults declared before the first `FROM`, overridden by
//! the build's arguments, as Docker substitutes them) and every `COPY --from=` that does not name
//! an earlier stage; `scratch` is no image.

use std::collections::{BTreeMap, HashMap};

/// One base image a Dockerfile names, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    pub image: String,
    pub line: usize,
}

/// The base images of `dockerfile`, in order. An error names the line that cannot be read.
pub fn base_images(
    dockerfile: &str,
    build_args: &BTreeMap<String, String>,
) -> Result<Vec<Base>, String> {
    let mut args: HashMap<String, String> = HashMap::new();
    let mut stages: Vec<String> = Vec::new();
    let mut bases = Vec::new();
    let mut seen_from = false;
    for (line, text) in instructions(dockerfile) {
        let mut words = text.split_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        match keyword.to_ascii_uppercase().as_str() {
            "ARG" if !seen_from => {
                for decl in words {
                    let (name, default) = match decl.split_once('=') {
                        Some((n, d)) => (n, unquote(d)),
                        None => (decl, String::new()),
                    };
                    let value = build_args.get(name).cloned().unwrap_or(default);
                    args.insert(name.to_owned(), value);
                }
            }
            "FROM" => {
                seen_from = true;
                let rest: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
                let Some(image) = rest.first() else {
                    return Err(format!("line {line}: FROM names no image"));
                };
                let image = substitute(image, &args);
                if image.is_empty() {
                    return Err(format!(
                        "line {line}: FROM names no image once its variables are set"
                    ));
                }
                let is_stage = stages.iter().any(|s| s.eq_ignore_ascii_case(&image));
                if !is_stage && !image.eq_ignore_ascii_case("scratch") {
                    bases.push(Base { image, line });
                }
                if let (Some(as_kw), Some(name)) = (rest.get(1), rest.get(2)) {
                    if as_kw.eq_ignore_ascii_case("as") {
                        stages.push(name.to_ascii_lowercase());
                    }
                }
            }
            "COPY" | "ADD" => {
                for w in words.take_while(|w| w.starts_with("--")) {
                    if let Some(from) = w.strip_prefix("--from=") {
                        let from = substitute(from, &args);
                        let is_index = from.parse::<usize>().is_ok_and(|i| i < stages.len().max(1));
                        let is_stage = stages.iter().any(|s| s.eq_ignore_ascii_case(&from));
                        if !is_stage && !is_index {
                            bases.push(Base { image: from, line });
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(bases)
}

/// The Dockerfile's instructions with the line each starts on: comments dropped, lines
/// continued by a trailing backslash joined.
fn instructions(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_none()) {
            continue;
        }
        let (continues, body) = match trimmed.strip_suffix('\\') {
            Some(b) => (true, b),
            None => (false, trimmed),
        };
        let entry = current.get_or_insert_with(|| (i + 1, String::new()));
        entry.1.push(' ');
        entry.1.push_str(body);
        if !continues {
            out.extend(current.take());
        }
    }
    out.extend(current);
    out
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner.to_owned();
        }
    }
    s.to_owned()
}

/// `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME:+alternative}`, as Docker reads them in
/// `FROM`; an unset name is empty.
fn substitute(s: &str, args: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(inner) = after.strip_prefix('{') {
            let Some(end) = inner.find('}') else {
                out.push_str(&rest[i..]);
                return out;
            };
            let expr = &inner[..end];
            let value = if let Some((name, default)) = expr.split_once(":-") {
                args.get(name)
                    .filter(|v| !v.is_empty())
                    .cloned()
                    .unwrap_or_else(|| default.to_owned())
            } else if let Some((name, alt)) = expr.split_once(":+") {
                if args.get(name).is_some_and(|v| !v.is_empty()) {
                    alt.to_owned()
                } else {
                    String::new()
                }
            } else {
                args.get(expr).cloned().unwrap_or_default()
            };
            out.push_str(&value);
            rest = &inner[end + 1..];
        } else {
            let len = after
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            out.push_str(args.get(&after[..len]).map_or("", String::as_str));
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(text: &str, args: &[(&str, &str)]) -> Vec<String> {
        let args = args
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        base_images(text, &args)
            .unwrap()
            .into_iter()
            .map(|b| b.image)
            .collect()
    }

    #[test]
    fn every_base_is_read_after_its_variables() {
        let text = "# syntax\nARG BASE=busybox:1 \\\n  OTHER\nARG TAG=\"2\"\nFROM --platform=linux/amd64 ${BASE} AS build\nRUN make\nFROM build AS test\nFROM base/img:${TAG}\nCOPY --from=build /a /a\nCOPY --chown=1 --from=berth/other:latest /src /src\nCOPY --from=0 /b /b\nfrom scratch\n";
        assert_eq!(
            images(text, &[]),
            ["busybox:1", "base/img:2", "berth/other:latest"]
        );
        assert_eq!(
            images(text, &[("BASE", "berth/victim:latest")]),
            ["berth/victim:latest", "base/img:2", "berth/other:latest"]
        );
        assert_eq!(images("FROM ${X:-alpine}\n", &[]), ["alpine"]);
        assert_eq!(images("ARG X\nFROM $X\n", &[("X", "a:1")]), ["a:1"]);
        // A build argument no ARG declares is not seen by FROM.
        assert!(base_images("FROM $X\n", &[("X".to_owned(), "a:1".to_owned())].into()).is_err());
        assert!(base_images("FROM $NOTHING\n", &BTreeMap::new()).is_err());
        assert!(base_images("FROM\n", &BTreeMap::new()).is_err());
    }
}
