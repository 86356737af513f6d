//! Configuration errors and source positions.
//!
//! Every problem found in a configuration becomes one [`ConfigError`] that names
//! the file, the 1-based line and column, and what was expected, so a user can
//! jump straight to it. [`ConfigErrors`] carries all of them from one run: the
//! loader reports as many as it can instead of stopping at the first.

use std::fmt;

/// One problem in a configuration file.
///
/// Displays as `file:line:column: message`, leaving out the parts that are
/// unknown (a file that cannot be read has no line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", Location { file, line: *line, column: *column })]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

/// All the problems found in one load, in file order and, within a file, in
/// source order. Displays one error per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", Lines(.0))]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigError {
    /// An error about a whole file (it cannot be read, for instance).
    pub fn in_file(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self { file: file.into(), line: None, column: None, message: message.into() }
    }

    /// An error at a known position.
    pub(crate) fn at(pos: &Pos, message: impl Into<String>) -> Self {
        Self { file: pos.file.clone(), line: Some(pos.line), column: Some(pos.column), message: message.into() }
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        Self(vec![error])
    }
}

struct Location<'a> {
    file: &'a str,
    line: Option<usize>,
    column: Option<usize>,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

struct Lines<'a>(&'a [ConfigError]);

impl fmt::Display for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// A position in a configuration file: the file as the user named it and a
/// 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pos {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl Pos {
    /// The position of byte `offset` in `text`. An offset past the end, or
    /// inside a character, is clamped to the nearest valid place before it.
    pub fn of(file: &str, text: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Self {
            file: file.to_owned(),
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_leaves_out_unknown_parts() {
        let full = ConfigError { file: "a.toml".into(), line: Some(3), column: Some(7), message: "bad".into() };
        assert_eq!(full.to_string(), "a.toml:3:7: bad");
        let no_column = ConfigError { column: None, ..full.clone() };
        assert_eq!(no_column.to_string(), "a.toml:3: bad");
        let file_only = ConfigError::in_file("a.toml", "cannot read: gone");
        assert_eq!(file_only.to_string(), "a.toml: cannot read: gone");
        let all = ConfigErrors(vec![full, file_only]);
        assert_eq!(all.to_string(), "a.toml:3:7: bad\na.toml: cannot read: gone");
    }

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "a = 1\nb = \"é\" x\n";
        assert_eq!(Pos::of("f", text, 0).to_string(), "f:1:1");
        assert_eq!(Pos::of("f", text, 6).to_string(), "f:2:1");
        // 'x' is after a two-byte character: byte 15, character column 9.
        let x = text.find('x').unwrap_or_default();
        assert_eq!(Pos::of("f", text, x).to_string(), "f:2:9");
        // Inside the two-byte character and past the end are clamped.
        let e = text.find('é').unwrap_or_default();
        assert_eq!(Pos::of("f", text, e + 1).column, 6);
        assert_eq!(Pos::of("f", text, 999).line, 3);
    }
}
