//! Shell-variable files such as `/etc/default/grub` and `/etc/default/grub.d/*.cfg`: parsing the
//! assignments in them and editing values while keeping everything else byte for byte.
//!
//! These files are shell scripts that `grub-mkconfig` sources. We do not evaluate them (see
//! [`crate::defaults`] for the effective values, which `sh` computes); we only need to know where
//! each `NAME=value` assignment is, whether its value is a plain literal we can rewrite, and how it
//! was quoted. The lexer understands `'…'`, `"…"`, backslashes, `$(…)`, backticks, comments,
//! command separators and compound commands (`if … fi`, `case … esac`, `{ … }`, loops), so an
//! assignment inside an `if` or a `$VAR` reference is recognised as such and never clobbered.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// How a value was quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quote {
    /// `NAME=value`
    None,
    /// `NAME='value'`
    Single,
    /// `NAME="value"` (or a mix of styles)
    Double,
}

/// One `NAME=value` assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The variable name.
    pub name: String,
    /// 1-based line of the assignment.
    pub line: usize,
    /// Byte range of the value (after `=`) in the file text.
    pub value_span: Range<usize>,
    /// The value with quotes removed, when it contains no expansion (`$…`, `` `…` ``).
    pub literal: Option<String>,
    /// Inside a compound command (`if`, `case`, a loop, a function or `{ }`), so it may not run.
    pub nested: bool,
    /// The quoting style of the value.
    pub quote: Quote,
}

impl Assignment {
    /// Whether rxl may rewrite this assignment's value in place.
    pub fn is_plain(&self) -> bool {
        !self.nested && self.literal.is_some()
    }
}

/// Why a shell-variable file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum VarsError {
    /// The lexer hit the end of the file inside a quote or substitution.
    #[error(
        "{path}:{line}:{column}: unterminated {what}; close it (the shell would refuse this file too)"
    )]
    Unterminated {
        /// The file.
        path: PathBuf,
        /// 1-based line where the construct starts.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was left open.
        what: &'static str,
    },
    /// A variable name rxl was asked to set is not a shell name.
    #[error("\"{0}\" is not a shell variable name")]
    BadName(String),
}

/// A parsed shell-variable file.
#[derive(Debug, Clone)]
pub struct ShellVarFile {
    /// Where it lives (for messages and writing).
    pub path: PathBuf,
    text: String,
    assignments: Vec<Assignment>,
}

impl ShellVarFile {
    /// Parses `text`, the contents of `path`.
    pub fn parse(path: impl Into<PathBuf>, text: impl Into<String>) -> Result<Self, VarsError> {
        let path = path.into();
        let text = text.into();
        let assignments = Lexer::new(&path, &text).assignments()?;
        Ok(ShellVarFile {
            path,
            text,
            assignments,
        })
    }

    /// The file's text, with any edits made so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every assignment, in file order.
    pub fn assignments(&self) -> &[Assignment] {
        &self.assignments
    }

    /// The last assignment of `name` in this file, of any kind.
    pub fn last(&self, name: &str) -> Option<&Assignment> {
        self.assignments.iter().rev().find(|a| a.name == name)
    }

    /// Sets `name` to `value` so that sourcing the file leaves `name == value`.
    ///
    /// When the last assignment of `name` is a plain top-level literal, its value is rewritten in
    /// place, keeping its quoting style where the new value allows. Otherwise (no assignment, or
    /// the last one is conditional or computed) a new assignment is appended at the end, with a
    /// comment naming the line it overrides. Setting the current value changes nothing.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), VarsError> {
        if !is_name(name) {
            return Err(VarsError::BadName(name.to_owned()));
        }
        let new_text = match self.last(name) {
            Some(a) if a.is_plain() => {
                if a.literal.as_deref() == Some(value) {
                    return Ok(());
                }
                let mut t = self.text.clone();
                t.replace_range(a.value_span.clone(), &quote_value(value, a.quote));
                t
            }
            last => {
                let mut t = self.text.clone();
                if !t.is_empty() && !t.ends_with('\n') {
                    t.push('\n');
                }
                match last {
                    Some(a) => t.push_str(&format!(
                        "# Set by rxl grub; overrides the conditional or computed value on line {}.\n",
                        a.line
                    )),
                    None => t.push_str("# Set by rxl grub.\n"),
                }
                t.push_str(&format!("{name}={}\n", quote_value(value, Quote::Double)));
                t
            }
        };
        *self = ShellVarFile::parse(self.path.clone(), new_text)?;
        Ok(())
    }
}

/// Whether `s` is a shell variable name.
pub fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// Quotes `value` for a shell assignment in the requested style, falling back to double quotes
/// when the style cannot carry the value (a `'` in single quotes, spaces unquoted).
pub fn quote_value(value: &str, style: Quote) -> String {
    let bare_ok = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./,:=+-@%".contains(c));
    match style {
        Quote::None if bare_ok => value.to_owned(),
        Quote::Single if !value.contains('\'') => format!("'{value}'"),
        _ => {
            let mut out = String::with_capacity(value.len() + 2);
            out.push('"');
            for c in value.chars() {
                if matches!(c, '"' | '\\' | '$' | '`') {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
            out
        }
    }
}

/// One shell word as the lexer saw it.
struct Word {
    span: Range<usize>,
    literal: Option<String>,
    quote: Quote,
    /// Byte offset of an unquoted `=` that ends a leading name, if the word is `NAME=…`.
    assign_eq: Option<usize>,
}

/// A small shell lexer: just enough to find assignments and their context.
struct Lexer<'a> {
    path: &'a Path,
    text: &'a str,
    b: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn new(path: &'a Path, text: &'a str) -> Self {
        Lexer {
            path,
            text,
            b: text.as_bytes(),
            pos: 0,
        }
    }

    fn line_col(&self, at: usize) -> (usize, usize) {
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        let col = at - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        (line, col)
    }

    fn unterminated(&self, at: usize, what: &'static str) -> VarsError {
        let (line, column) = self.line_col(at);
        VarsError::Unterminated {
            path: self.path.to_owned(),
            line,
            column,
            what,
        }
    }

    /// Splits the file into commands (lists of words) and records the assignments.
    fn assignments(mut self) -> Result<Vec<Assignment>, VarsError> {
        let mut out = Vec::new();
        let mut depth: usize = 0;
        // Whether the current command runs only conditionally (after `&&`, `||` or in a pipe).
        let mut conditional = false;
        loop {
            let (words, sep) = self.command()?;
            let mut words = &words[..];
            // Reserved words that may precede a command on the same line.
            while let Some(w) = words.first() {
                let t = &self.text[w.span.clone()];
                if matches!(t, "then" | "do" | "else" | "elif" | "!") && w.literal.is_some() {
                    if t == "elif" {
                        words = &words[..0];
                        break;
                    }
                    words = &words[1..];
                } else {
                    break;
                }
            }
            if let Some(first) = words.first() {
                let t = &self.text[first.span.clone()];
                match t {
                    "if" | "case" | "for" | "while" | "until" | "{" | "(" => depth += 1,
                    "fi" | "esac" | "done" | "}" | ")" => depth = depth.saturating_sub(1),
                    // A function definition; its body's `{` counts when it is on this line
                    // (on the next line it is a command of its own).
                    _ if words
                        .get(1)
                        .is_some_and(|w| &self.text[w.span.clone()] == "()")
                        && words.iter().any(|w| &self.text[w.span.clone()] == "{") =>
                    {
                        depth += 1;
                    }
                    _ => {}
                }
                let start = usize::from(t == "export" || t == "readonly");
                let assigns: Vec<&Word> = words[start..]
                    .iter()
                    .take_while(|w| w.assign_eq.is_some())
                    .collect();
                // `A=1 cmd` only sets A for cmd; a command of nothing but assignments sets them.
                if assigns.len() == words.len() - start || start == 1 {
                    for w in assigns {
                        let eq = w.assign_eq.unwrap_or(w.span.start);
                        out.push(Assignment {
                            name: self.text[w.span.start..eq].to_owned(),
                            line: self.line_col(w.span.start).0,
                            value_span: eq + 1..w.span.end,
                            literal: w.literal.clone(),
                            nested: depth > 0 || conditional || sep == Sep::Pipe,
                            quote: w.quote,
                        });
                    }
                }
            }
            match sep {
                Sep::End => return Ok(out),
                Sep::AndOr | Sep::Pipe => conditional = true,
                Sep::Plain => conditional = false,
            }
        }
    }

    /// Reads the words of one command, up to a separator, and says which separator ended it.
    fn command(&mut self) -> Result<(Vec<Word>, Sep), VarsError> {
        let mut words = Vec::new();
        loop {
            while self.pos < self.b.len() && matches!(self.b[self.pos], b' ' | b'\t') {
                self.pos += 1;
            }
            if self.pos >= self.b.len() {
                return Ok((words, Sep::End));
            }
            match self.b[self.pos] {
                b'#' => {
                    while self.pos < self.b.len() && self.b[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                b'\\' if self.b.get(self.pos + 1) == Some(&b'\n') => self.pos += 2,
                b'\n' | b';' | b'&' | b'|' => {
                    let c = self.b[self.pos];
                    let doubled = self.b.get(self.pos + 1) == Some(&c);
                    self.pos += 1 + usize::from(doubled && c != b'\n');
                    let sep = match (c, doubled) {
                        (b'&' | b'|', true) => Sep::AndOr,
                        (b'|', false) => Sep::Pipe,
                        _ => Sep::Plain,
                    };
                    return Ok((words, sep));
                }
                _ => words.push(self.word()?),
            }
        }
    }

    /// Reads one word starting at `self.pos`.
    fn word(&mut self) -> Result<Word, VarsError> {
        let start = self.pos;
        let mut literal = Some(String::new());
        let mut quote = Quote::None;
        let mut assign_eq = None;
        let mut name_ok = true;
        while self.pos < self.b.len() {
            let c = self.b[self.pos];
            match c {
                b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' => break,
                b'(' | b')' | b'<' | b'>' if self.pos == start => {
                    self.pos += 1;
                    if c == b'(' && self.b.get(self.pos) == Some(&b')') {
                        self.pos += 1;
                    }
                    return Ok(Word {
                        span: start..self.pos,
                        literal: None,
                        quote,
                        assign_eq,
                    });
                }
                b'(' | b')' | b'<' | b'>' => break,
                b'\'' => {
                    let open = self.pos;
                    let end = self.text[open + 1..]
                        .find('\'')
                        .ok_or_else(|| self.unterminated(open, "single quote"))?;
                    if let Some(l) = literal.as_mut() {
                        l.push_str(&self.text[open + 1..open + 1 + end]);
                    }
                    self.pos = open + end + 2;
                    quote = quote.max_with(Quote::Single);
                    name_ok = false;
                }
                b'"' => {
                    let open = self.pos;
                    self.pos += 1;
                    quote = Quote::Double;
                    name_ok = false;
                    loop {
                        match self.b.get(self.pos) {
                            None => return Err(self.unterminated(open, "double quote")),
                            Some(b'"') => break,
                            Some(b'\\') => match self.b.get(self.pos + 1) {
                                Some(&n @ (b'$' | b'`' | b'"' | b'\\')) => {
                                    if let Some(l) = literal.as_mut() {
                                        l.push(n as char);
                                    }
                                    self.pos += 2;
                                }
                                Some(b'\n') => self.pos += 2,
                                _ => {
                                    if let Some(l) = literal.as_mut() {
                                        l.push('\\');
                                    }
                                    self.pos += 1;
                                }
                            },
                            Some(b'$') | Some(b'`') => {
                                literal = None;
                                self.skip_expansion()?;
                            }
                            Some(_) => {
                                let ch = self.text[self.pos..].chars().next().unwrap_or_default();
                                if let Some(l) = literal.as_mut() {
                                    l.push(ch);
                                }
                                self.pos += ch.len_utf8();
                            }
                        }
                    }
                    self.pos += 1;
                }
                b'\\' => {
                    if let (Some(l), Some(n)) =
                        (literal.as_mut(), self.text[self.pos + 1..].chars().next())
                    {
                        if n != '\n' {
                            l.push(n);
                        }
                    }
                    self.pos += 1 + self.text[self.pos + 1..]
                        .chars()
                        .next()
                        .map_or(0, char::len_utf8);
                    name_ok = false;
                }
                b'$' | b'`' => {
                    literal = None;
                    name_ok = false;
                    self.skip_expansion()?;
                }
                b'=' if name_ok && assign_eq.is_none() && is_name(&self.text[start..self.pos]) => {
                    assign_eq = Some(self.pos);
                    // The value is what follows; the literal restarts there.
                    literal = Some(String::new());
                    quote = Quote::None;
                    self.pos += 1;
                }
                _ => {
                    let ch = self.text[self.pos..].chars().next().unwrap_or_default();
                    if let Some(l) = literal.as_mut() {
                        l.push(ch);
                    }
                    self.pos += ch.len_utf8();
                }
            }
        }
        Ok(Word {
            span: start..self.pos,
            literal,
            quote,
            assign_eq,
        })
    }

    /// Skips `$name`, `${…}`, `$(…)`, `$((…))` or `` `…` `` at `self.pos`, honouring nesting and
    /// quotes inside.
    fn skip_expansion(&mut self) -> Result<(), VarsError> {
        let open = self.pos;
        if self.b[self.pos] == b'`' {
            self.pos += 1;
            while self.pos < self.b.len() && self.b[self.pos] != b'`' {
                self.pos += if self.b[self.pos] == b'\\' { 2 } else { 1 };
            }
            if self.pos >= self.b.len() {
                return Err(self.unterminated(open, "backquote"));
            }
            self.pos += 1;
            return Ok(());
        }
        self.pos += 1; // '$'
        let (opener, closer) = match self.b.get(self.pos) {
            Some(b'{') => (b'{', b'}'),
            Some(b'(') => (b'(', b')'),
            _ => {
                while self
                    .b
                    .get(self.pos)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    self.pos += 1;
                }
                if self.pos == open + 1 && self.pos < self.b.len() {
                    self.pos += 1; // special parameter: $?, $@, $1 ...
                }
                return Ok(());
            }
        };
        let mut depth = 0usize;
        while let Some(&c) = self.b.get(self.pos) {
            match c {
                _ if c == opener => depth += 1,
                _ if c == closer => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos += 1;
                        return Ok(());
                    }
                }
                b'\\' => self.pos += 1,
                b'\'' if opener == b'(' => {
                    let end = self.text[self.pos + 1..]
                        .find('\'')
                        .ok_or_else(|| self.unterminated(self.pos, "single quote"))?;
                    self.pos += end + 1;
                }
                _ => {}
            }
            self.pos += 1;
        }
        Err(self.unterminated(open, if opener == b'{' { "${…}" } else { "$(…)" }))
    }
}

/// What ended a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    /// Newline, `;` or `&`.
    Plain,
    /// `&&` or `||`: the next command is conditional.
    AndOr,
    /// `|`: the command runs in a pipeline (a subshell in most shells).
    Pipe,
    /// End of input.
    End,
}

impl Quote {
    fn max_with(self, other: Quote) -> Quote {
        match (self, other) {
            (Quote::Double, _) | (_, Quote::Double) => Quote::Double,
            (Quote::Single, _) | (_, Quote::Single) => Quote::Single,
            _ => Quote::None,
        }
    }
}

#[cfg(test)]
#[path = "vars_tests.rs"]
mod tests;
