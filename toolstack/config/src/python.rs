//! Recognising xm-era Python configs, so they get one clear error instead of a page of syntax
//! errors.
//!
//! libxlu flags a file as "likely Python" when an illegal byte is one of `+ - . ( ) :`, which
//! also fires on a hyphenated key such as `install-method`. rxl asks for a stronger sign on a
//! line that failed to parse: a Python statement keyword, a function call, `%` formatting, or a
//! block-opening `:`. (The lexer still records libxlu's flag, see [`crate::lexer::Lexed`].)

use crate::diag::{DiagKind, Diagnostic, Span};
use crate::source::Source;

const KEYWORDS: &[&str] = &[
    "import", "from", "def", "class", "if", "elif", "else", "for", "while", "try", "except",
    "finally", "return", "raise", "with", "print", "lambda", "global", "assert", "pass", "del",
];

/// If the failed parse of `src` (with errors `diags`) looks like Python, returns the single error
/// to report instead, positioned on the first line that looks like Python.
pub fn detect(src: &Source, diags: &[Diagnostic]) -> Option<Diagnostic> {
    let mut lines: Vec<u32> = diags
        .iter()
        .filter(|d| d.is_error() && &d.span.file == src.name())
        .map(|d| d.span.line)
        .collect();
    lines.sort_unstable();
    lines.dedup();
    let first = lines
        .into_iter()
        .find(|&l| looks_like_python(src.line_text(l)))?;
    let text = src.line_text(first);
    let column = text.chars().take_while(|c| c.is_whitespace()).count() + 1;
    Some(
        Diagnostic::error(
            DiagKind::Python,
            Span {
                file: src.name().clone(),
                line: first,
                column: u32::try_from(column).unwrap_or(1),
            },
            "this is an xm-era Python config: Python is not supported (xl dropped it too); \
             the Python starts here",
        )
        .found(format!("`{}`", text.trim()))
        .hint(
            "rewrite the file as plain `key = value` lines, computing values by hand \
             (see xl.cfg(5) and https://wiki.xen.org/wiki/PythonInXlConfig)",
        ),
    )
}

/// True when one line of text carries an unmistakable Python construct.
pub fn looks_like_python(line: &str) -> bool {
    let code = strip_strings_and_comment(line);
    let t = code.trim();
    if t.is_empty() {
        return false;
    }
    let first: String = t
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let after_first = t[first.len()..].trim_start();
    if KEYWORDS.contains(&first.as_str()) && !after_first.starts_with('=') {
        return true;
    }
    if t.ends_with(':') || t.contains(" % ") || t.contains("%(") {
        return true;
    }
    // A call: a name (possibly dotted) directly followed by `(`.
    let b = code.as_bytes();
    (1..b.len()).any(|i| b[i] == b'(' && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
}

/// The line with quoted strings replaced by `""` and any `#` comment removed.
fn strip_strings_and_comment(line: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == '\\' {
                    chars.next();
                } else if c == q {
                    quote = None;
                    out.push(q);
                }
            }
            None => match c {
                '"' | '\'' => {
                    quote = Some(c);
                    out.push(c);
                }
                '#' => break,
                _ => out.push(c),
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::looks_like_python as py;

    #[test]
    fn python_constructs() {
        assert!(py("import os, re"));
        assert!(py("def vmid_check(var, val):"));
        assert!(py("    if val <= 0:"));
        assert!(py("name = \"VM%d\" % vmid"));
        assert!(py("xm_vars.check()"));
        assert!(py("arch = os.uname()[4]"));
    }

    #[test]
    fn not_python() {
        assert!(!py("install-method = \"cdrom\""));
        assert!(!py("memory = 512M"));
        assert!(!py("cmdline = \"root=/dev/xvda1 console=hvc0 f(x):\""));
        assert!(!py("type = hvm # if: this"));
        assert!(!py("if = 3"));
    }
}
