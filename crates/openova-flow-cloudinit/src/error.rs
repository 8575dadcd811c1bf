//! Errors and source positions.

use std::fmt;
use std::ops::Range;

/// A position in a source file, 1-based, columns in characters (as HCL
/// reports them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file as shown to the user (e.g. `infra/hetzner/main.tf`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column in characters.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A source file: its display name and text, for mapping byte offsets to
/// lines and columns.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Name shown in messages.
    pub name: String,
    /// Full text.
    pub text: String,
}

impl SourceFile {
    /// A new source file.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        SourceFile {
            name: name.into(),
            text: text.into(),
        }
    }

    /// The location of a byte offset (clamped to the text).
    pub fn location(&self, offset: usize) -> Location {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Location {
            file: self.name.clone(),
            line,
            column,
        }
    }

    /// The location of the start of a span, if there is one.
    pub fn span_location(&self, span: Option<Range<usize>>) -> Option<Location> {
        span.map(|s| self.location(s.start))
    }
}

/// Everything that can go wrong, each rendered as one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A parse, evaluation, variable or check failure (exit code 1).
    #[error("{}", at(.location.as_ref(), .message))]
    Failed {
        /// Where, when known.
        location: Option<Location>,
        /// What went wrong and how to fix it.
        message: String,
    },
    /// A region key that the configuration does not define (exit code 2).
    #[error("unknown region key {key:?}; known keys: {}", .known.join(", "))]
    UnknownRegion {
        /// The requested key.
        key: String,
        /// The keys the configuration defines, primary first.
        known: Vec<String>,
    },
    /// A malformed command line (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// A file could not be read or written (exit code 1).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

fn at(location: Option<&Location>, message: &str) -> String {
    match location {
        Some(l) => format!("{l}: {message}"),
        None => message.to_string(),
    }
}

impl Error {
    /// A failure at a location.
    pub fn at(location: Option<Location>, message: impl Into<String>) -> Error {
        Error::Failed {
            location,
            message: message.into(),
        }
    }

    /// A failure without a location.
    pub fn msg(message: impl Into<String>) -> Error {
        Error::at(None, message)
    }

    /// The process exit code for this error (2 usage, 1 everything else).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::UnknownRegion { .. } | Error::Usage(_) => 2,
            Error::Failed { .. } | Error::Io { .. } => 1,
        }
    }

    /// The message without its location (for tests and wrapping).
    pub fn message(&self) -> String {
        match self {
            Error::Failed { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    /// The location, when the error has one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Failed { location, .. } => location.as_ref(),
            _ => None,
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_count_lines_and_characters() {
        let f = SourceFile::new("t.tftpl", "ab\ncé${x}\n");
        assert_eq!(f.location(0).to_string(), "t.tftpl:1:1");
        assert_eq!(f.location(3).to_string(), "t.tftpl:2:1");
        // "cé" is 3 bytes; `$` is the third character of line 2.
        assert_eq!(f.location(6).to_string(), "t.tftpl:2:3");
        // Offsets inside a multi-byte character clamp to its start.
        assert_eq!(f.location(5).to_string(), "t.tftpl:2:2");
        assert_eq!(f.location(999).line, 3);
    }

    #[test]
    fn errors_render_one_line_and_exit_codes() {
        let e = Error::at(
            Some(Location {
                file: "m.tf".into(),
                line: 3,
                column: 7,
            }),
            "boom",
        );
        assert_eq!(e.to_string(), "m.tf:3:7: boom");
        assert_eq!(e.exit_code(), 1);
        let u = Error::UnknownRegion {
            key: "hel1-9".into(),
            known: vec!["fsn1".into(), "hel1-1".into()],
        };
        assert_eq!(
            u.to_string(),
            "unknown region key \"hel1-9\"; known keys: fsn1, hel1-1"
        );
        assert_eq!(u.exit_code(), 2);
        assert_eq!(Error::msg("x").to_string(), "x");
    }
}
