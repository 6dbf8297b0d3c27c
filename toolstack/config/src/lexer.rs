//! The xl.cfg lexer, built from nom combinators, following libxlu's flex rules
//! (`tools/libs/util/libxlu_cfg_l.l`).
//!
//! Tokens: IDENT `[a-z][._0-9a-z]*`, NUMBER `[0-9][0-9a-fx]*` (kept as text), STRING in single or
//! double quotes (no raw newline, backslash escapes), `, [ ] = ; +=`, NEWLINE (a `\n`, or a `#`
//! comment together with its `\n`). Only space and TAB are blanks.
//!
//! Deliberate divergences from libxlu (each listed in docs/xl-compat.md): CRLF line endings and a
//! final comment line without a newline are accepted with a warning; numeric escapes (`\x..`,
//! `\0..`), which libxlu mangles, are rejected with a clear message.

use std::collections::BTreeSet;

use nom::branch::alt;
use nom::bytes::complete::{tag, take_till, take_while, take_while1};
use nom::character::complete::{char, none_of, satisfy};
use nom::combinator::{opt, recognize, value};
use nom::multi::many0;
use nom::sequence::preceded;
use nom::{IResult, Parser};

use crate::diag::{DiagKind, Diagnostic};
use crate::source::Source;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// A key: `[a-z][._0-9a-z]*`.
    Ident,
    /// A number, kept as text (`0x1f`, `010`, `512`).
    Number,
    /// A quoted string, already dequoted.
    Str(String),
    /// `,`
    Comma,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `=`
    Assign,
    /// `+=`
    PlusAssign,
    /// `;`
    Semicolon,
    /// A newline, or a comment with its newline.
    Newline,
    /// End of input.
    Eof,
}

/// A token and the byte range of its text in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// The lexer's result: tokens (always ending in [`TokenKind::Eof`]) and what went wrong.
#[derive(Debug, Default)]
pub struct Lexed {
    /// The tokens, in order.
    pub tokens: Vec<Token>,
    /// Lexical and escape errors, and the CRLF / final-comment warnings.
    pub diagnostics: Vec<Diagnostic>,
    /// Lines holding a lexical error (the parser stays quiet about those lines).
    pub error_lines: BTreeSet<u32>,
    /// An illegal byte was one of `+ - . ( ) :`, libxlu's sign of Python.
    pub python_bytes: bool,
}

type Res<'a, T> = IResult<&'a str, T>;

fn blanks(i: &str) -> Res<'_, &str> {
    take_while1(|c| c == ' ' || c == '\t').parse(i)
}

fn newline(i: &str) -> Res<'_, &str> {
    alt((tag("\r\n"), tag("\n"))).parse(i)
}

/// A comment runs to the end of the line; the newline itself is optional (at end of input).
fn comment(i: &str) -> Res<'_, (&str, Option<&str>)> {
    (
        recognize((char('#'), take_till(|c| c == '\n'))),
        opt(tag("\n")),
    )
        .parse(i)
}

fn ident(i: &str) -> Res<'_, &str> {
    recognize((
        satisfy(|c| c.is_ascii_lowercase()),
        take_while(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_'),
    ))
    .parse(i)
}

fn number(i: &str) -> Res<'_, &str> {
    recognize((
        satisfy(|c| c.is_ascii_digit()),
        take_while(|c: char| c.is_ascii_digit() || ('a'..='f').contains(&c) || c == 'x'),
    ))
    .parse(i)
}

/// A whole quoted string, quotes included: any char but the quote, backslash or newline, or a
/// backslash followed by anything but a newline.
fn quoted(i: &str) -> Res<'_, &str> {
    fn body(q: char) -> impl Fn(&str) -> Res<'_, &str> {
        move |i| {
            let stop = if q == '"' { "\"\\\n" } else { "'\\\n" };
            recognize(many0(alt((
                recognize(none_of(stop)),
                recognize(preceded(char('\\'), none_of("\n"))),
            ))))
            .parse(i)
        }
    }
    alt((
        recognize((char('"'), body('"'), char('"'))),
        recognize((char('\''), body('\''), char('\''))),
    ))
    .parse(i)
}

fn punct(i: &str) -> Res<'_, TokenKind> {
    alt((
        value(TokenKind::PlusAssign, tag("+=")),
        value(TokenKind::Comma, char(',')),
        value(TokenKind::LBracket, char('[')),
        value(TokenKind::RBracket, char(']')),
        value(TokenKind::Assign, char('=')),
        value(TokenKind::Semicolon, char(';')),
    ))
    .parse(i)
}

/// Splits `src` into tokens. Never fails: problems become diagnostics, and the lexer resumes at
/// the next blank or newline, as libxlu's does.
pub fn lex(src: &Source) -> Lexed {
    let text = src.text();
    let mut out = Lexed::default();
    let mut rest = text;
    let mut crlf_warned = false;
    let off = |r: &str| text.len() - r.len();
    loop {
        let start = off(rest);
        if rest.is_empty() {
            out.tokens.push(Token {
                kind: TokenKind::Eof,
                start,
                end: start,
            });
            return out;
        }
        if let Ok((r, _)) = blanks(rest) {
            rest = r;
            continue;
        }
        if let Ok((r, nl)) = newline(rest) {
            if nl == "\r\n" && !crlf_warned {
                crlf_warned = true;
                out.diagnostics.push(crlf_warning(src, start));
            }
            out.push(TokenKind::Newline, start, off(r));
            rest = r;
            continue;
        }
        if let Ok((r, (body, nl))) = comment(rest) {
            if body.ends_with('\r') && !crlf_warned {
                crlf_warned = true;
                out.diagnostics
                    .push(crlf_warning(src, start + body.len() - 1));
            }
            if nl.is_none() {
                out.diagnostics.push(
                    Diagnostic::warning(
                        DiagKind::CommentAtEof,
                        src.span(start),
                        "the last line is a comment without a newline; xl rejects this file",
                    )
                    .hint("end the file with a newline to keep it usable with xl"),
                );
            }
            out.push(TokenKind::Newline, start, off(r));
            rest = r;
            continue;
        }
        if let Ok((r, s)) = quoted(rest) {
            let value = dequote(src, start, s, &mut out);
            out.push(TokenKind::Str(value), start, off(r));
            rest = r;
            continue;
        }
        if let Ok((r, _)) = ident(rest) {
            out.push(TokenKind::Ident, start, off(r));
            rest = r;
            continue;
        }
        if let Ok((r, _)) = number(rest) {
            out.push(TokenKind::Number, start, off(r));
            rest = r;
            continue;
        }
        if let Ok((r, kind)) = punct(rest) {
            out.push(kind, start, off(r));
            rest = r;
            continue;
        }
        rest = lexical_error(src, start, rest, &mut out);
    }
}

impl Lexed {
    fn push(&mut self, kind: TokenKind, start: usize, end: usize) {
        self.tokens.push(Token { kind, start, end });
    }

    fn error(&mut self, d: Diagnostic) {
        let line = d.span.line;
        // Like libxlu, at most one lexical error per line: the rest is usually fallout.
        if self.error_lines.insert(line) {
            self.diagnostics.push(d);
        }
    }
}

fn crlf_warning(src: &Source, offset: usize) -> Diagnostic {
    Diagnostic::warning(
        DiagKind::CrLf,
        src.span(offset),
        "the file has CRLF (Windows) line endings; rxl accepts them, xl rejects every such line",
    )
    .hint("convert the file with `dos2unix` (or `sed -i 's/\\r$//'`) to keep it usable with xl")
}

/// Reports the illegal character at `rest` and skips, like flex's error state, to the next blank
/// or newline. Returns the remaining input.
fn lexical_error<'a>(src: &Source, start: usize, rest: &'a str, out: &mut Lexed) -> &'a str {
    let c = rest.chars().next().unwrap_or('\0');
    if matches!(c, '+' | '-' | '.' | '(' | ')' | ':') {
        out.python_bytes = true;
    }
    let prev = out
        .tokens
        .last()
        .filter(|t| t.end == start)
        .map(|t| &t.kind);
    let line_end = rest.find('\n').unwrap_or(rest.len());
    if c == '"' || c == '\'' {
        let d = Diagnostic::error(
            DiagKind::Lexical,
            src.span(start),
            "unterminated string: no closing quote on this line",
        )
        .hint(format!(
            "add the closing {c}; strings cannot span lines (use a list [ ... ] for long values)"
        ));
        out.error(d);
        return &rest[line_end..];
    }
    let skip = rest
        .find([' ', '\t', '\n'])
        .unwrap_or(rest.len())
        .max(c.len_utf8());
    let found = if c == '\r' { "\\r" } else { &rest[..skip] };
    let hint = match (prev, c) {
        (_, '\r') => "a lone carriage return; use Unix line endings".to_string(),
        (Some(TokenKind::Number), c) if c.is_ascii_alphanumeric() => {
            "a number is digits only (0x1f hex with lower-case digits, a leading 0 is octal) and \
             has no unit: memory and maxmem are in MiB; quote anything else"
                .to_string()
        }
        (Some(TokenKind::Ident), _) | (None, 'A'..='Z') => {
            "keys are lower case and may contain only a-z, 0-9, '.' and '_'".to_string()
        }
        (_, '-') if rest[1..].starts_with(|c: char| c.is_ascii_digit()) => {
            "negative numbers must be quoted, e.g. \"-5\"".to_string()
        }
        _ => "put text values in quotes, e.g. \"value\"".to_string(),
    };
    let d = Diagnostic::error(
        DiagKind::Lexical,
        src.span(start),
        format!("unexpected character {c:?}"),
    )
    .found(format!("`{}`", found.trim_end_matches('\r')))
    .hint(hint);
    out.error(d);
    &rest[skip..]
}

/// Turns the quoted text `s` (quotes included) at byte `start` into its value.
fn dequote(src: &Source, start: usize, s: &str, out: &mut Lexed) -> String {
    let inner = &s[1..s.len() - 1];
    let mut value = String::with_capacity(inner.len());
    let mut chars = inner.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            value.push(c);
            continue;
        }
        // The lexer guarantees a character follows every backslash.
        let Some((_, e)) = chars.next() else { break };
        let resolved = match e {
            '"' | '\'' | '\\' => Some(e),
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            _ => None,
        };
        match resolved {
            Some(r) => value.push(r),
            None => {
                let numeric = e == 'x' || ('0'..='7').contains(&e);
                let (msg, hint) = if numeric {
                    (
                        format!("numeric escape `\\{e}` in a string is not supported"),
                        "libxlu mangles or rejects numeric escapes; write the character itself",
                    )
                } else {
                    (
                        format!("unknown escape `\\{e}` in a string"),
                        "valid escapes are \\\" \\' \\\\ \\a \\b \\f \\n \\r \\t \\v; write \\\\ \
                         for a backslash",
                    )
                };
                let d =
                    Diagnostic::error(DiagKind::Escape, src.span(start + 1 + i), msg).hint(hint);
                out.error(d);
            }
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        lex(&Source::new("t", text))
            .tokens
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn flex_longest_match_splits_numbers_like_libxlu() {
        let l = lex(&Source::new("t", "a = 0x1F\n"));
        assert_eq!(l.tokens[2].kind, TokenKind::Number);
        assert_eq!(&"a = 0x1F\n"[l.tokens[2].start..l.tokens[2].end], "0x1");
        assert_eq!(l.diagnostics.len(), 1);
        assert!(
            l.diagnostics[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("no unit")
        );
    }

    #[test]
    fn comment_is_a_newline() {
        use TokenKind::*;
        assert_eq!(
            kinds("a=1 # x\n"),
            vec![Ident, Assign, Number, Newline, Eof]
        );
    }

    #[test]
    fn escapes() {
        let l = lex(&Source::new("t", r#"a = "q\"\'\\\a\b\f\n\r\t\v" "#));
        assert_eq!(
            l.tokens[2].kind,
            TokenKind::Str("q\"'\\\x07\x08\x0c\n\r\t\x0b".into())
        );
        assert!(l.diagnostics.is_empty());
    }

    #[test]
    fn plus_alone_is_python_byte() {
        let l = lex(&Source::new("t", "a = 1 + 2\n"));
        assert!(l.python_bytes);
        assert_eq!(l.diagnostics.len(), 1);
    }
}
