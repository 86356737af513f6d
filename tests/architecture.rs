//! The crate's shape, checked: module dependencies point one way, along the
//! request (front ends → gateway → links to servers → framing → protocol), and
//! no group of modules depends on itself in a circle, at any depth.
//!
//! It reads `src/` as text (no compiler needed, so it costs milliseconds): every
//! `use` item and every `crate::`/`super::`/`self::` path outside tests is an
//! edge from the module it is written in to the module it names (the longest
//! module prefix of the path). A `mod.rs` that re-exports a child's item
//! depends on that child, so a child must not reach back into its parent's
//! own items: parents declare and re-export, children define.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each top-level module may depend on (besides itself). The order is the
/// layering, lowest first; `cli` is the application and may use everything.
const LAYERS: &[(&str, &[&str])] = &[
    ("protocol", &[]),
    ("framing", &["protocol"]),
    ("observe", &["protocol"]),
    ("config", &["protocol", "observe"]),
    ("auth", &["config", "observe", "protocol"]),
    ("service", &["auth", "protocol"]),
    ("link", &["framing", "observe", "protocol"]),
    ("registry", &["config", "observe"]),
    ("gateway", &["auth", "config", "framing", "link", "observe", "protocol", "service"]),
    ("front", &["auth", "config", "framing", "observe", "protocol", "service"]),
    ("mock", &["auth", "config", "framing", "front", "observe", "protocol", "service"]),
    ("bench", &["config", "framing", "link", "observe", "protocol"]),
    ("cluster", &["config", "gateway", "observe", "registry"]),
    ("admin", &["cluster", "config", "gateway", "observe", "protocol", "registry"]),
];

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn top_level_modules_depend_only_downwards() {
    let graph = collapse(&dependencies(), 1);
    let mut wrong = Vec::new();
    for (from, tos) in &graph {
        if from == "cli" || from.is_empty() {
            continue;
        }
        let Some((_, allowed)) = LAYERS.iter().find(|(m, _)| m == from) else {
            wrong.push(format!("`{from}` is a new top-level module: add it to LAYERS in tests/architecture.rs"));
            continue;
        };
        for to in tos {
            if !allowed.contains(&to.as_str()) {
                wrong.push(format!("`{from}` depends on `{to}`"));
            }
        }
    }
    assert!(wrong.is_empty(), "dependencies against the layering:\n  {}", wrong.join("\n  "));
}

#[test]
fn no_module_depends_on_itself_in_a_circle() {
    let deps = dependencies();
    for depth in [1, 2, 3, usize::MAX] {
        let cycles = cycles(&collapse(&deps, depth));
        assert!(
            cycles.is_empty(),
            "module cycles (at depth {depth}):\n  {}",
            cycles.iter().map(|c| c.join(" ⇄ ")).collect::<Vec<_>>().join("\n  ")
        );
    }
}

#[test]
fn the_checker_sees_edges_and_cycles() {
    // The checker itself must be able to fail: a hand-made graph with a cycle.
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    g.entry("c".into()).or_default().insert("a".into());
    g.entry("d".into()).or_default().insert("a".into());
    assert_eq!(cycles(&g), vec![vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]]);
    // And it reads a real edge out of the crate: the gateway uses links.
    let top = collapse(&dependencies(), 1);
    assert!(top.get("gateway").is_some_and(|t| t.contains("link")), "{top:?}");
    assert_eq!(
        expand("crate::a::{b, c::{d, self}, e as f}"),
        ["crate::a::b", "crate::a::c::d", "crate::a::c", "crate::a::e"]
    );
    assert_eq!(
        strip("let s = \"crate::x\"; // crate::y\nlet c = '\"'; crate::z"),
        "let s = \"\"; \nlet c = ''; crate::z"
    );
}

/// Module path ("gateway::core"; "" for the crate root) → its source file.
fn modules() -> BTreeMap<String, PathBuf> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap_or(&path).with_extension("");
                let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
                if parts == ["main"] {
                    continue; // the binary: a thin wrapper around `cli`
                }
                if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                    parts.pop();
                }
                out.insert(parts.join("::"), path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    assert!(out.len() > 50, "src/ not found or nearly empty: {out:?}");
    out
}

/// Every module's dependencies on other modules (tests excluded).
fn dependencies() -> Graph {
    let mods = modules();
    let mut graph = Graph::new();
    for (module, path) in &mods {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let code = without_tests(&strip(&text));
        let mut deps = BTreeSet::new();
        for item in use_items(&code) {
            for p in expand(&item) {
                deps.extend(resolve(&mods, module, &p));
            }
        }
        for p in inline_paths(&code) {
            deps.extend(resolve(&mods, module, &p));
        }
        deps.remove(module);
        graph.insert(module.clone(), deps);
    }
    graph
}

/// The graph with every module cut to its first `depth` segments.
fn collapse(graph: &Graph, depth: usize) -> Graph {
    let cut = |m: &str| m.split("::").take(depth).collect::<Vec<_>>().join("::");
    let mut out = Graph::new();
    for (from, tos) in graph {
        let f = cut(from);
        let set = out.entry(f.clone()).or_default();
        for to in tos {
            let t = cut(to);
            if t != f {
                set.insert(t);
            }
        }
    }
    out
}

/// Strongly connected groups of more than one module (Tarjan), each sorted.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                group.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                s.found.push(group);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found.sort();
    s.found
}

/// The source without comments, and with string and char literals emptied, so
/// that nothing inside them reads as a path.
fn strip(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'r' if !ident_before(b, i) && matches!(b.get(i + 1), Some(b'"' | b'#')) => {
                // A raw string: r"..." or r#"..."#.
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"') {
                    out.push(b[i]);
                    i += 1;
                    continue;
                }
                j += 1;
                loop {
                    if j >= b.len() {
                        break;
                    }
                    if b[j] == b'"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&b'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    j += 1;
                }
                out.extend_from_slice(b"\"\"");
                i = j;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.extend_from_slice(b"\"\"");
            }
            b'\'' => {
                // A char literal ('x', '\n', '\u{1F600}'), or a lifetime ('a).
                if b.get(i + 1) == Some(&b'\\') {
                    let mut j = i + 2;
                    while j < b.len() && b[j] != b'\'' {
                        j += 1;
                    }
                    out.extend_from_slice(b"''");
                    i = j + 1;
                } else if let Some(len) =
                    std::str::from_utf8(&b[i + 1..]).ok().and_then(|s| s.chars().next()).map(char::len_utf8)
                    && b.get(i + 1 + len) == Some(&b'\'')
                {
                    out.extend_from_slice(b"''");
                    i += len + 2;
                } else {
                    out.push(b'\'');
                    i += 1;
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn ident_before(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// The code before the first inline test module (they come last, by convention).
fn without_tests(code: &str) -> String {
    let mut from = 0;
    while let Some(at) = code[from..].find("#[cfg(test)]") {
        let start = from + at;
        let rest = code[start + "#[cfg(test)]".len()..].trim_start();
        // `pub`, `pub(crate)`, `pub(super)`, `pub(in path)`.
        let rest = match rest.strip_prefix("pub") {
            Some(r) if r.trim_start().starts_with('(') => r.split_once(')').map_or(r, |(_, after)| after),
            Some(r) => r,
            None => rest,
        }
        .trim_start();
        if let Some(after) = rest.strip_prefix("mod ") {
            let name_end = after.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(after.len());
            if after[name_end..].trim_start().starts_with('{') {
                return code[..start].to_owned();
            }
        }
        from = start + 1;
    }
    code.to_owned()
}

/// The trees of every `use` item.
fn use_items(code: &str) -> Vec<String> {
    let b = code.as_bytes();
    let mut items = Vec::new();
    let mut i = 0;
    while let Some(at) = code[i..].find("use") {
        let start = i + at;
        i = start + 3;
        let before_ok = start == 0 || !(b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_');
        let after_ok = b.get(start + 3).is_some_and(|c| c.is_ascii_whitespace());
        if before_ok
            && after_ok
            && let Some(end) = code[start..].find(';')
        {
            items.push(code[start + 4..start + end].trim().to_owned());
            i = start + end;
        }
    }
    items
}

/// A use tree as the paths it names: `a::{b, c::d}` → `a::b`, `a::c::d`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(tree).trim();
        return vec![path.to_owned()];
    };
    let prefix = &tree[..open];
    let inner = tree[open + 1..].strip_suffix('}').unwrap_or(&tree[open + 1..]);
    let mut parts = Vec::new();
    let (mut depth, mut cur) = (0, String::new());
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur);
    let mut out = Vec::new();
    for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        for p in expand(part) {
            out.push(if p == "self" { prefix.trim_end_matches(':').to_owned() } else { format!("{prefix}{p}") });
        }
    }
    out
}

/// Paths written in code: `crate::a::b`, `super::x`, `self::y`.
fn inline_paths(code: &str) -> Vec<String> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    for head in ["crate::", "super::", "self::"] {
        let mut i = 0;
        while let Some(at) = code[i..].find(head) {
            let start = i + at;
            i = start + head.len();
            let before = start.checked_sub(1).map(|k| b[k]);
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':') {
                continue;
            }
            let mut end = start;
            while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_' || b[end] == b':') {
                end += 1;
            }
            out.push(code[start..end].trim_end_matches(':').to_owned());
        }
    }
    out
}

/// The module a path written in `module` leads to (its longest module prefix).
fn resolve(mods: &BTreeMap<String, PathBuf>, module: &str, path: &str) -> Option<String> {
    let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let here: Vec<&str> = if module.is_empty() { Vec::new() } else { module.split("::").collect() };
    let first = *segs.first()?;
    let full: Vec<&str> = match first {
        "crate" => segs[1..].to_vec(),
        "self" => here.iter().copied().chain(segs[1..].iter().copied()).collect(),
        "super" => {
            let ups = segs.iter().take_while(|s| **s == "super").count();
            let base = &here[..here.len().saturating_sub(ups)];
            base.iter().copied().chain(segs[ups..].iter().copied()).collect()
        }
        // `use child::Item` in a parent module.
        child if mods.contains_key(&here.iter().copied().chain([child]).collect::<Vec<_>>().join("::")) => {
            here.iter().copied().chain(segs.iter().copied()).collect()
        }
        _ => return None,
    };
    // The crate root only declares the top-level modules: a path that leads no
    // deeper names no dependency.
    (1..=full.len()).rev().map(|k| full[..k].join("::")).find(|m| mods.contains_key(m))
}
