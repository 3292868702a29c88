//! A strict structural check of the HTML pl-doctor writes (no HTML parser crate is a
//! dependency; the page is generated, so a small strict tokenizer suffices): every
//! non-void element closed in order, attribute values quoted, no script, no
//! reference to anything outside the file, the Content-Security-Policy present.

/// Elements HTML defines as void (no closing tag).
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
];

pub struct Tag {
    pub name: String,
    pub attrs: Vec<(String, String)>,
}

/// Every problem found, empty when the document is well formed. Also returns the start tags.
pub fn check(doc: &str) -> (Vec<String>, Vec<Tag>) {
    let mut errors = Vec::new();
    let mut tags = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    if !doc.starts_with("<!DOCTYPE html>") {
        errors.push("does not start with <!DOCTYPE html>".into());
    }
    let bytes = doc.as_bytes();
    let mut i = doc.find('>').map(|p| p + 1).unwrap_or(0);
    let mut raw_text_until: Option<&str> = None;
    while i < bytes.len() {
        if let Some(end) = raw_text_until {
            // Inside <style>: skip to its closing tag.
            match doc[i..].find(end) {
                Some(p) => {
                    i += p;
                    raw_text_until = None;
                    continue;
                }
                None => {
                    errors.push(format!("unclosed raw-text element until {end}"));
                    break;
                }
            }
        }
        if bytes[i] != b'<' {
            if bytes[i] == b'>' {
                errors.push(format!("stray '>' at byte {i}"));
            }
            i += 1;
            continue;
        }
        let Some(close) = doc[i..].find('>') else {
            errors.push(format!("unterminated tag at byte {i}"));
            break;
        };
        let inner = &doc[i + 1..i + close];
        i += close + 1;
        if let Some(name) = inner.strip_prefix('/') {
            match stack.pop() {
                Some(open) if open == name => {}
                other => errors.push(format!("</{name}> closes {other:?}")),
            }
            continue;
        }
        let (name, rest) = inner
            .split_once(|c: char| c.is_whitespace())
            .unwrap_or((inner, ""));
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
            errors.push(format!("bad tag name in <{inner}>"));
            continue;
        }
        let attrs = match attributes(rest) {
            Ok(a) => a,
            Err(e) => {
                errors.push(format!("<{name}>: {e}"));
                Vec::new()
            }
        };
        if name == "style" {
            raw_text_until = Some("</style>");
        }
        if !VOID.contains(&name) {
            stack.push(name.to_owned());
        }
        tags.push(Tag {
            name: name.to_owned(),
            attrs,
        });
    }
    if !stack.is_empty() {
        errors.push(format!("unclosed elements: {stack:?}"));
    }
    for t in &tags {
        if t.name == "script" || t.name == "iframe" || t.name == "object" {
            errors.push(format!("<{}> is not allowed", t.name));
        }
        for (k, v) in &t.attrs {
            if k.starts_with("on") {
                errors.push(format!("event handler attribute {k} on <{}>", t.name));
            }
            if (k == "src" || k == "href") && !(v.starts_with('#') || v.starts_with("data:")) {
                errors.push(format!("<{} {k}={v:?}> points outside the file", t.name));
            }
        }
    }
    let count = |n: &str| tags.iter().filter(|t| t.name == n).count();
    for n in ["html", "head", "body", "title"] {
        if count(n) < 1 {
            errors.push(format!("no <{n}>"));
        }
    }
    if count("html") > 1 || count("head") > 1 || count("body") > 1 {
        errors.push("more than one html/head/body".into());
    }
    let mut ids: Vec<&str> = tags
        .iter()
        .flat_map(|t| {
            t.attrs
                .iter()
                .filter(|(k, _)| k == "id")
                .map(|(_, v)| v.as_str())
        })
        .collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    if ids.len() != before {
        errors.push("duplicate id attributes".into());
    }
    (errors, tags)
}

fn attributes(mut s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return Ok(out);
        }
        let name_end = s
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(s.len());
        let name = &s[..name_end];
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b':')
        {
            return Err(format!("bad attribute name {name:?}"));
        }
        s = &s[name_end..];
        if let Some(rest) = s.strip_prefix('=') {
            let rest = rest
                .strip_prefix('"')
                .ok_or_else(|| format!("attribute {name} is not double-quoted"))?;
            let end = rest
                .find('"')
                .ok_or_else(|| format!("attribute {name}'s value is not closed"))?;
            let value = &rest[..end];
            if value.contains('<') {
                return Err(format!("unescaped '<' in attribute {name}"));
            }
            out.push((name.to_owned(), value.to_owned()));
            s = &rest[end + 1..];
        } else {
            out.push((name.to_owned(), String::new()));
        }
    }
}
