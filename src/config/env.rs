//! `${VAR}` substitution in configuration strings.
//!
//! Secrets and per-host values stay out of the file: `${VAR}` takes the
//! environment variable and is an error when it is unset, `${VAR:-default}`
//! falls back when it is unset or empty (as in the shell), and `$${` writes a
//! literal `${`. Anything else with a `$` (`$`, `$x`, `$$`) is left as it is.
//! The environment is a function so tests and `load_with_env` can supply
//! their own.

/// A problem in one string, at byte `index` of that string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubstError {
    pub index: usize,
    pub message: String,
}

/// Expands every `${...}` in `s`. Reports every problem in the string, not
/// only the first.
pub(crate) fn substitute(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Vec<SubstError>> {
    let mut out = String::with_capacity(s.len());
    let mut errors = Vec::new();
    let mut i = 0;
    while let Some(found) = s[i..].find('$') {
        let at = i + found;
        out.push_str(&s[i..at]);
        let rest = &s[at..];
        if rest.starts_with("$${") {
            out.push_str("${");
            i = at + 3;
        } else if rest.starts_with("${") {
            let Some(close) = rest.find('}') else {
                errors.push(SubstError {
                    index: at,
                    message: "unterminated `${`: expected `${NAME}` or `${NAME:-default}` \
                              closed by `}` (write `$${` for a literal `${`)"
                        .to_owned(),
                });
                return Err(errors);
            };
            match expand(&rest[2..close], env) {
                Ok(value) => out.push_str(&value),
                Err(message) => errors.push(SubstError { index: at, message }),
            }
            i = at + close + 1;
        } else {
            out.push('$');
            i = at + 1;
        }
    }
    out.push_str(&s[i..]);
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// Expands the inside of one `${...}`.
fn expand(inner: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let (name, default) = match inner.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (inner, None),
    };
    if !is_variable_name(name) {
        return Err(format!(
            "`${{{inner}}}` is not a valid substitution: expected `${{NAME}}` or \
             `${{NAME:-default}}` where NAME is letters, digits and `_` (write `$${{` for a literal `${{`)"
        ));
    }
    match (env(name), default) {
        (Some(value), Some(default)) if value.is_empty() => Ok(default.to_owned()),
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.to_owned()),
        (None, None) => Err(format!(
            "environment variable {name} is not set; set it, or write `${{{name}:-default}}` to give a fallback"
        )),
    }
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TZ" => Some("Europe/Paris".into()),
            "EMPTY" => Some(String::new()),
            "TOKEN" => Some("s3cret".into()),
            _ => None,
        }
    }

    fn sub(s: &str) -> Result<String, Vec<SubstError>> {
        substitute(s, &env)
    }

    #[test]
    fn set_variables_are_substituted() {
        assert_eq!(sub("${TZ}"), Ok("Europe/Paris".into()));
        assert_eq!(sub("Bearer ${TOKEN}!"), Ok("Bearer s3cret!".into()));
        assert_eq!(sub("${TZ}/${TOKEN}"), Ok("Europe/Paris/s3cret".into()));
        assert_eq!(sub("${EMPTY}"), Ok(String::new()));
    }

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        assert_eq!(sub("${NOPE:-UTC}"), Ok("UTC".into()));
        assert_eq!(sub("${NOPE:-}"), Ok(String::new()));
        assert_eq!(sub("${EMPTY:-fallback}"), Ok("fallback".into()));
        assert_eq!(sub("${TZ:-UTC}"), Ok("Europe/Paris".into()));
        assert_eq!(sub("${NOPE:-a:-b}"), Ok("a:-b".into()));
    }

    #[test]
    fn dollars_that_are_not_substitutions_stay() {
        assert_eq!(sub("$${TZ}"), Ok("${TZ}".into()));
        assert_eq!(sub("a $ b $x $$ c$"), Ok("a $ b $x $$ c$".into()));
        assert_eq!(sub("$$${TZ}"), Ok("$${TZ}".into()));
        assert_eq!(sub("é${TZ}é"), Ok("éEurope/Parisé".into()));
    }

    #[test]
    fn unset_variables_are_errors_at_their_index() {
        let errors = sub("x ${A} y ${B:-b} ${C}").expect_err("A and C are unset");
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].index, 2);
        assert!(errors[0].message.contains("environment variable A is not set"));
        assert_eq!(errors[1].index, 17);
        assert!(errors[1].message.contains("environment variable C is not set"));
    }

    #[test]
    fn malformed_substitutions_are_errors() {
        let errors = sub("ok ${TZ} then ${UNCLOSED").expect_err("unterminated");
        assert_eq!(errors[0].index, 14);
        assert!(errors[0].message.contains("unterminated `${`"));
        let errors = sub("${}").expect_err("empty name");
        assert!(errors[0].message.contains("not a valid substitution"));
        let errors = sub("${1X} ${A-B}").expect_err("bad names");
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[1].index, 6);
    }
}
