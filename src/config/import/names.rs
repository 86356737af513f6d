//! Client placeholders and server names, made fit for vmcp.
//!
//! A client's `${...}` means something else than vmcp's `${VAR}` in most
//! clients, and a client's server names are free text where vmcp's ids are
//! `^[a-z][a-z0-9-]{0,31}$`.

use std::collections::BTreeSet;

use crate::config::document::is_valid_server_id;

/// A string with the client's placeholders made fit for vmcp.
pub(super) struct Converted {
    pub value: String,
    /// Variables left for vmcp to substitute.
    pub vars: Vec<String>,
}

/// VS Code's predefined variables: they name editor state vmcp does not have.
const EDITOR_VARIABLES: &[&str] = &[
    "workspaceFolder",
    "workspaceFolderBasename",
    "workspaceRoot",
    "cwd",
    "pathSeparator",
    "execPath",
    "file",
    "fileBasename",
    "fileBasenameNoExtension",
    "fileDirname",
    "fileDirnameBasename",
    "fileExtname",
    "fileWorkspaceFolder",
    "relativeFile",
    "relativeFileDirname",
    "lineNumber",
    "selectedText",
    "defaultBuildTask",
];

/// Rewrites `${...}` for vmcp, which substitutes `${VAR}` and
/// `${VAR:-default}` from its environment in every string:
/// - `${VAR}` and `${VAR:-default}` stay (Claude Code and Cursor mean the
///   same by them); `${env:VAR}` (VS Code, Cursor) becomes `${VAR}`, and
///   `${userHome}` becomes `${HOME}`;
/// - anything else (`${input:id}`, `${workspaceFolder}`, an unclosed `${`)
///   has no meaning to vmcp and is written literally (`$${`), with a note.
pub(super) fn placeholders(what: &str, s: &str, notes: &mut Vec<String>) -> Converted {
    let mut value = String::with_capacity(s.len());
    let mut vars = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find("${") {
        value.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let close = after.find('}');
        let inner = close.map(|c| &after[..c]);
        // `$${` reads as a literal `${` in vmcp, so a `$` just before a
        // substitution cannot be written: keep such text literal too.
        let dollar_before = value.ends_with('$');
        let var = inner.and_then(|inner| {
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            let name = name.strip_prefix("env:").unwrap_or(name);
            let name = if name == "userHome" { "HOME" } else { name };
            (is_variable_name(name) && !EDITOR_VARIABLES.contains(&name)).then_some((name, default))
        });
        match (var, close, inner) {
            (Some((name, default)), Some(close), Some(inner)) if !dollar_before => {
                value.push_str("${");
                value.push_str(name);
                if let Some(default) = default {
                    value.push_str(":-");
                    value.push_str(default);
                }
                value.push('}');
                vars.push(name.to_owned());
                if inner.split_once(":-").map_or(inner, |(n, _)| n) != name {
                    notes.push(format!("{what}: `${{{inner}}}` written as `${{{name}}}`, vmcp's form"));
                }
                rest = &after[close + 1..];
            }
            _ => {
                value.push_str("$${");
                let shown = inner.map_or_else(|| "${".to_owned(), |i| format!("${{{i}}}"));
                notes.push(format!(
                    "{what}: `{shown}` means nothing to vmcp and is kept as literal text; \
                     replace it with the value, or with `${{VAR}}` to read an environment variable"
                ));
                rest = after;
            }
        }
    }
    value.push_str(rest);
    Converted { value, vars }
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A name as a server id: lowercase; `_`, whitespace and `.` become `-`;
/// other characters are dropped; `s-` in front unless it starts with a
/// letter; at most 32 characters.
pub(super) fn sanitize(name: &str) -> String {
    let mut id: String = name
        .chars()
        .flat_map(char::to_lowercase)
        .filter_map(|c| match c {
            '_' | '.' => Some('-'),
            c if c.is_whitespace() => Some('-'),
            'a'..='z' | '0'..='9' | '-' => Some(c),
            _ => None,
        })
        .collect();
    if id.is_empty() {
        id = "server".to_owned();
    } else if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
        id.insert_str(0, "s-");
    }
    id.truncate(32); // ASCII only by now
    id
}

/// Server ids for `names`, in order: a name that is already a valid id keeps
/// it; the others are sanitized, and a clash gets `-2`, `-3`, ...
pub(super) fn assign_ids(names: &[&str]) -> Vec<String> {
    let mut taken = BTreeSet::new();
    let mut ids: Vec<Option<String>> = names
        .iter()
        .map(|name| (is_valid_server_id(name) && taken.insert((*name).to_owned())).then(|| (*name).to_owned()))
        .collect();
    for (id, name) in ids.iter_mut().zip(names) {
        if id.is_some() {
            continue;
        }
        let base = sanitize(name);
        let mut candidate = base.clone();
        let mut n = 2u32;
        while taken.contains(&candidate) {
            let suffix = format!("-{n}");
            let mut stem = base.clone();
            stem.truncate(32 - suffix.len());
            candidate = format!("{stem}{suffix}");
            n += 1;
        }
        taken.insert(candidate.clone());
        *id = Some(candidate);
    }
    ids.into_iter().map(Option::unwrap_or_default).collect()
}
