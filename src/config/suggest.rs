//! "Did you mean ...?" for misspelled keys and names.
//!
//! Unknown keys are errors rather than silently ignored, and the most common
//! cause is a typo; naming the close match turns the error into its fix.

/// The candidate closest to `word`, if one is close enough to be a likely
/// typo: Jaro-Winkler similarity of at least 0.8, or at most two edits (and
/// fewer edits than `word` has characters, so short words do not match
/// everything).
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word_len = word.chars().count();
    candidates
        .iter()
        .map(|&candidate| {
            let similarity = strsim::jaro_winkler(word, candidate);
            let edits = strsim::levenshtein(word, candidate);
            (candidate, similarity, edits)
        })
        .filter(|&(_, similarity, edits)| similarity >= 0.8 || (edits <= 2 && edits < word_len))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.2.cmp(&a.2)))
        .map(|(candidate, _, _)| candidate)
}

/// `", did you mean `x`?"` or `"; expected one of: a, b, c"`.
pub(crate) fn hint(word: &str, candidates: &[&str]) -> String {
    match closest(word, candidates) {
        Some(close) => format!("; did you mean `{close}`?"),
        None => format!("; expected one of: {}", candidates.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[&str] = &["listen", "separator", "prefix", "state_dir", "url", "cwd"];

    #[test]
    fn close_words_are_suggested() {
        assert_eq!(closest("lisen", KEYS), Some("listen"));
        assert_eq!(closest("seperator", KEYS), Some("separator"));
        assert_eq!(closest("statedir", KEYS), Some("state_dir"));
        assert_eq!(closest("ur", KEYS), Some("url"));
        assert_eq!(closest("cdw", KEYS), Some("cwd"));
    }

    #[test]
    fn far_words_are_not() {
        assert_eq!(closest("x", KEYS), None);
        assert_eq!(closest("timeout", KEYS), None);
        assert!(hint("zzz", KEYS).starts_with("; expected one of: listen, separator"));
        assert_eq!(hint("prefx", KEYS), "; did you mean `prefix`?");
    }
}
