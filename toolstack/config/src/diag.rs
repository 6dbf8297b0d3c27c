//! Diagnostics: where a problem is (file, line, column), what it is, and how to fix it.
//!
//! Every problem the crate finds, from a stray byte to a PV guest without a kernel, becomes one
//! [`Diagnostic`]. They render like a compiler's: `guest.cfg:3:10: error: ...` and a hint line.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// A position in a source: file name, 1-based line and 1-based column (in characters).
///
/// Line 0 means "the file as a whole" (for problems such as a missing `name`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Span {
    /// The source name: the path given by the user, or `command line` for overrides.
    pub file: Arc<str>,
    /// 1-based line; 0 when the problem concerns the whole file.
    pub line: u32,
    /// 1-based column, counted in characters; 0 when unknown.
    pub column: u32,
}

impl Span {
    /// A span for the whole of `file` (no line).
    pub fn file(file: &Arc<str>) -> Span {
        Span {
            file: file.clone(),
            line: 0,
            column: 0,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}", self.file),
            (l, 0) => write!(f, "{}:{l}", self.file),
            (l, c) => write!(f, "{}:{l}:{c}", self.file),
        }
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// xl (or rxl, stricter by design) refuses the file.
    Error,
    /// The file is usable, but probably not what the author meant.
    Warning,
}

/// What kind of problem a diagnostic reports; tests and tools match on this, people read the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiagKind {
    /// The file could not be read.
    Io,
    /// A byte that cannot start any token.
    Lexical,
    /// Tokens in an order the grammar does not allow.
    Syntax,
    /// A bad backslash escape inside a string.
    Escape,
    /// `+=` between a list and a string.
    AppendMismatch,
    /// The file is an xm-era Python script.
    Python,
    /// CRLF line endings (xl rejects them, rxl accepts them).
    CrLf,
    /// A comment on the last line without a newline (xl rejects it, rxl accepts it).
    CommentAtEof,
    /// Bytes that are not UTF-8 (replaced).
    Encoding,
    /// A key xl does not read.
    UnknownKey,
    /// A key that still works but has a replacement.
    DeprecatedKey,
    /// A key xl reads that rxl does not model yet (ignored).
    UnsupportedKey,
    /// A list where a single value belongs, or the reverse.
    Shape,
    /// A value that is not a valid number / boolean / enum member.
    InvalidValue,
    /// A number outside the range the key allows.
    OutOfRange,
    /// A device or CPU spec string that its sub-grammar rejects.
    DeviceSpec,
    /// A create-time check xl would fail (no name, no kernel, contradicting keys).
    Validation,
}

/// One problem, with everything a person needs to act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The class of problem.
    pub kind: DiagKind,
    /// Where it is.
    pub span: Span,
    /// The key concerned, if any.
    pub key: Option<String>,
    /// What is wrong, in words.
    pub message: String,
    /// What was expected there, if that helps.
    pub expected: Option<String>,
    /// What was found instead.
    pub found: Option<String>,
    /// How to fix it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A new error of `kind` at `span`.
    pub fn error(kind: DiagKind, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            kind,
            span,
            key: None,
            message: message.into(),
            expected: None,
            found: None,
            hint: None,
        }
    }

    /// A new warning of `kind` at `span`.
    pub fn warning(kind: DiagKind, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(kind, span, message)
        }
    }

    /// Sets the key concerned.
    pub fn key(mut self, key: impl Into<String>) -> Diagnostic {
        self.key = Some(key.into());
        self
    }

    /// Sets what was expected.
    pub fn expected(mut self, what: impl Into<String>) -> Diagnostic {
        self.expected = Some(what.into());
        self
    }

    /// Sets what was found.
    pub fn found(mut self, what: impl Into<String>) -> Diagnostic {
        self.found = Some(what.into());
        self
    }

    /// Sets the fix suggestion.
    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:col: error: key `k`: message: expected X, found Y` and, on the next line,
    /// `  hint: ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}: {sev}: ", self.span)?;
        if let Some(k) = &self.key {
            write!(f, "`{k}`: ")?;
        }
        f.write_str(&self.message)?;
        match (&self.expected, &self.found) {
            (Some(e), Some(x)) => write!(f, ": expected {e}, found {x}")?,
            (Some(e), None) => write!(f, ": expected {e}")?,
            (None, Some(x)) => write!(f, ": found {x}")?,
            (None, None) => {}
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// A file that failed: every diagnostic found (errors first in source order, then warnings).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", render(.diagnostics))]
pub struct ConfigErrors {
    /// All diagnostics; at least one is an error.
    pub diagnostics: Vec<Diagnostic>,
}

impl ConfigErrors {
    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// The warnings only.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }
}

/// Renders diagnostics one after another, one per line (hints on their own line).
pub fn render(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, d) in diags.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&d.to_string());
    }
    out
}

/// Sorts diagnostics by position (file, line, column), keeping the order of equal positions.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (&a.span.file, a.span.line, a.span.column).cmp(&(&b.span.file, b.span.line, b.span.column))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_position_key_expected_found_and_hint() {
        let d = Diagnostic::error(
            DiagKind::InvalidValue,
            Span {
                file: "guest.cfg".into(),
                line: 3,
                column: 10,
            },
            "not a number",
        )
        .key("memory")
        .expected("a whole number of MiB")
        .found("\"512M\"")
        .hint("write memory = 512");
        assert_eq!(
            d.to_string(),
            "guest.cfg:3:10: error: `memory`: not a number: expected a whole number of MiB, \
             found \"512M\"\n  hint: write memory = 512"
        );
    }

    #[test]
    fn whole_file_span_has_no_line() {
        let s = Span::file(&Arc::from("a.cfg"));
        assert_eq!(s.to_string(), "a.cfg");
    }
}
