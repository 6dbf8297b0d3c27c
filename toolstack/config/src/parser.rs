//! The xl.cfg grammar (libxlu's `libxlu_cfg_y.y`) over the lexer's tokens.
//!
//! ```text
//! file       = { statement } [ assignment ]      (the last assignment may lack a newline)
//! statement  = assignment end | end
//! end        = NEWLINE | ";"
//! assignment = IDENT ( "=" | "+=" ) value
//! value      = STRING | NUMBER | "[" nl* [ items ] "]"
//! items      = value nl* { "," nl* value nl* } [ "," nl* ]
//! ```
//!
//! This is a hand-written recursive descent because it must recover from errors the way bison's
//! `error NEWLINE` rule does (resynchronise at the next line and go on), so one run reports every
//! broken line; nom does the tokenising in [`crate::lexer`].

use crate::diag::{DiagKind, Diagnostic, Span};
use crate::lexer::{Lexed, Token, TokenKind, lex};
use crate::python;
use crate::source::Source;
use crate::value::{Assignment, Op, Settings, Value};

/// The result of parsing one source: settings and every diagnostic (errors and warnings).
#[derive(Debug, Default)]
pub struct Parsed {
    /// The settings (incomplete when there are errors).
    pub settings: Settings,
    /// Lexical, syntax, escape and `+=` problems, plus the lexer's warnings.
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// True when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses `src` into fresh settings.
///
/// If the text fails to parse and looks like an xm-era Python script, the many syntax errors are
/// replaced by one error that says so and names the line where the Python starts.
pub fn parse(src: &Source) -> Parsed {
    let mut settings = Settings::default();
    let diagnostics = parse_into(src, &mut settings);
    Parsed {
        settings,
        diagnostics,
    }
}

/// Parses `src` and applies its assignments on top of `settings` (as if its text followed the
/// text that produced them: this is how command-line overrides work). Returns the diagnostics,
/// sorted by position.
pub fn parse_into(src: &Source, settings: &mut Settings) -> Vec<Diagnostic> {
    let lexed = lex(src);
    let mut p = Parser {
        src,
        toks: &lexed.tokens,
        pos: 0,
        depth: 0,
        lexed: &lexed,
        diags: Vec::new(),
    };
    let assignments = p.file();
    let mut diags = lexed.diagnostics.clone();
    diags.append(&mut p.diags);
    for a in assignments {
        if let Err(d) = settings.apply(a) {
            diags.push(*d);
        }
    }
    crate::diag::sort(&mut diags);
    if diags.iter().any(Diagnostic::is_error)
        && let Some(py) = python::detect(src, &diags)
    {
        diags.retain(|d| !d.is_error());
        diags.push(py);
    }
    diags
}

/// Deepest list nesting accepted. libxlu has no limit (bison's stack grows to 10000); real files
/// nest two levels (`vnuma`). The limit keeps the recursive descent far from the thread's stack.
pub const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    src: &'a Source,
    toks: &'a [Token],
    pos: usize,
    depth: usize,
    lexed: &'a Lexed,
    diags: Vec<Diagnostic>,
}

/// A syntax error; the statement is abandoned.
struct Abandon;

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn peek_at(&self, n: usize) -> &Token {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if t.kind != TokenKind::Eof {
            self.pos += 1;
        }
        t
    }

    fn text(&self, t: &Token) -> &str {
        &self.src.text()[t.start..t.end]
    }

    fn span(&self, t: &Token) -> Span {
        self.src.span(t.start)
    }

    fn file(&mut self) -> Vec<Assignment> {
        let mut out = Vec::new();
        loop {
            match self.peek().kind {
                TokenKind::Eof => return out,
                TokenKind::Newline | TokenKind::Semicolon => {
                    self.bump();
                }
                _ => match self.statement() {
                    Ok(a) => out.push(a),
                    Err(Abandon) => self.recover(),
                },
            }
        }
    }

    fn statement(&mut self) -> Result<Assignment, Abandon> {
        let key_tok = self.peek().clone();
        if key_tok.kind != TokenKind::Ident {
            let hint = match key_tok.kind {
                TokenKind::Str(_) | TokenKind::Number | TokenKind::LBracket => {
                    "each statement is `key = value`; a value cannot stand alone"
                }
                _ => "each statement is `key = value`, with a lower-case key",
            };
            return Err(self.syntax(&key_tok, "a key", hint));
        }
        self.bump();
        let op = match self.peek().kind {
            TokenKind::Assign => Op::Set,
            TokenKind::PlusAssign => Op::Append,
            _ => {
                let t = self.peek().clone();
                return Err(self.syntax(&t, "`=` or `+=` after the key", "write `key = value`"));
            }
        };
        self.bump();
        let value = self.value()?;
        let end = self.peek().clone();
        match end.kind {
            TokenKind::Newline | TokenKind::Semicolon | TokenKind::Eof => {}
            TokenKind::Str(_) | TokenKind::Number => {
                return Err(self.syntax(
                    &end,
                    "the end of the statement (a newline or `;`)",
                    "one key takes one value; for several, write a list: [ \"a\", \"b\" ]",
                ));
            }
            TokenKind::Ident if self.toks[self.pos - 1].end == end.start => {
                // `memory = 512g`: the lexer split a number from its unit.
                return Err(self.syntax(
                    &end,
                    "the end of the statement (a newline or `;`)",
                    "a number has no unit suffix: memory and maxmem are in MiB; quote other text",
                ));
            }
            _ => {
                return Err(self.syntax(
                    &end,
                    "the end of the statement (a newline or `;`)",
                    "put one statement per line, or separate statements with `;`",
                ));
            }
        }
        Ok(Assignment {
            key: self.text(&key_tok).to_string(),
            key_span: self.span(&key_tok),
            op,
            value,
        })
    }

    fn value(&mut self) -> Result<Value, Abandon> {
        let t = self.peek().clone();
        match &t.kind {
            TokenKind::Str(s) => {
                self.bump();
                Ok(Value::Str {
                    text: s.clone(),
                    bare: false,
                    span: self.span(&t),
                })
            }
            TokenKind::Number => {
                self.bump();
                Ok(Value::Str {
                    text: self.text(&t).to_string(),
                    bare: true,
                    span: self.span(&t),
                })
            }
            TokenKind::LBracket if self.depth >= MAX_DEPTH => Err(self.syntax(
                &t,
                "a value",
                &format!("lists may nest at most {MAX_DEPTH} levels deep"),
            )),
            TokenKind::LBracket => {
                self.depth += 1;
                let v = self.list();
                self.depth -= 1;
                v
            }
            TokenKind::Ident => {
                let word = self.text(&t).to_string();
                Err(self.syntax(
                    &t,
                    "a value (a quoted string, a number or a [list])",
                    &format!("a bare word is not a value; quote it: \"{word}\""),
                ))
            }
            _ => Err(self.syntax(
                &t,
                "a value (a quoted string, a number or a [list])",
                "give a value after `=`, e.g. name = \"guest\"",
            )),
        }
    }

    fn skip_newlines(&mut self) {
        while self.peek().kind == TokenKind::Newline {
            self.bump();
        }
    }

    fn list(&mut self) -> Result<Value, Abandon> {
        let open = self.bump();
        let span = self.span(&open);
        let mut items = Vec::new();
        self.skip_newlines();
        loop {
            let t = self.peek().clone();
            match t.kind {
                TokenKind::RBracket => {
                    self.bump();
                    return Ok(Value::List { items, span });
                }
                TokenKind::Comma => {
                    return Err(self.syntax(
                        &t,
                        "a list element or `]`",
                        "empty list elements are not allowed: remove the extra comma",
                    ));
                }
                TokenKind::Eof => {
                    let hint = format!("close the list opened at line {} with `]`", span.line);
                    return Err(self.syntax(&t, "`]`", &hint));
                }
                _ => {}
            }
            items.push(self.value()?);
            self.skip_newlines();
            let t = self.peek().clone();
            match t.kind {
                TokenKind::Comma => {
                    self.bump();
                    self.skip_newlines();
                }
                TokenKind::RBracket => {}
                TokenKind::Str(_) | TokenKind::Number | TokenKind::LBracket => {
                    return Err(self.syntax(
                        &t,
                        "`,` or `]`",
                        "separate list elements with commas",
                    ));
                }
                TokenKind::Eof => {
                    let hint = format!("close the list opened at line {} with `]`", span.line);
                    return Err(self.syntax(&t, "`,` or `]`", &hint));
                }
                _ => {
                    return Err(self.syntax(
                        &t,
                        "`,` or `]`",
                        "list elements are separated by commas and the list ends with `]`",
                    ));
                }
            }
        }
    }

    fn describe(&self, t: &Token) -> String {
        match &t.kind {
            TokenKind::Ident => format!("the bare word `{}`", self.text(t)),
            TokenKind::Number => format!("the number `{}`", self.text(t)),
            TokenKind::Str(s) => format!("the string {s:?}"),
            TokenKind::Newline if self.text(t).starts_with('#') => "a comment".into(),
            TokenKind::Newline => "the end of the line".into(),
            TokenKind::Eof => "the end of the file".into(),
            _ => format!("`{}`", self.text(t)),
        }
    }

    /// Records a syntax error at `t` (unless its line already has a lexical error) and abandons
    /// the statement.
    fn syntax(&mut self, t: &Token, expected: &str, hint: &str) -> Abandon {
        let span = self.span(t);
        if !self.lexed.error_lines.contains(&span.line) {
            let d = Diagnostic::error(DiagKind::Syntax, span, "syntax error")
                .expected(expected)
                .found(self.describe(t))
                .hint(hint);
            self.diags.push(d);
        }
        Abandon
    }

    /// Bison-style recovery: drop tokens up to the next newline, then also skip the continuation
    /// lines of a broken statement (lines that do not start a new `key =` assignment), so one
    /// mistake gives one error.
    fn recover(&mut self) {
        loop {
            match self.peek().kind {
                TokenKind::Eof => return,
                TokenKind::Newline => {
                    self.bump();
                    let starts_assignment = self.peek().kind == TokenKind::Ident
                        && matches!(
                            self.peek_at(1).kind,
                            TokenKind::Assign | TokenKind::PlusAssign
                        );
                    if starts_assignment || self.peek().kind == TokenKind::Eof {
                        return;
                    }
                }
                _ => {
                    self.bump();
                }
            }
        }
    }
}
