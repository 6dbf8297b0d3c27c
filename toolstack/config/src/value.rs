//! Parsed values and the settings store (last assignment wins, `+=` appends).
//!
//! Like libxlu, there are only two value types: text and lists. A NUMBER token is text that
//! remembers it was written bare, so the printer can write it back the same way; whether text is
//! a number is decided only when a key is read ([`crate::reader`]).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diag::{DiagKind, Diagnostic, Span};

/// One value with the position where it starts.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// A quoted string or a bare number.
    Str {
        /// The (dequoted) text.
        text: String,
        /// True when written as a bare NUMBER token, not in quotes.
        #[serde(skip)]
        bare: bool,
        /// Where the value starts.
        #[serde(skip)]
        span: Span,
    },
    /// `[ ... ]`, possibly nested.
    List {
        /// The elements.
        items: Vec<Value>,
        /// Where the `[` is.
        #[serde(skip)]
        span: Span,
    },
}

impl PartialEq for Value {
    /// Compares the value trees and ignores positions, so a printed and re-parsed value equals
    /// the original.
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Str { text: a, .. }, Value::Str { text: b, .. }) => a == b,
            (Value::List { items: a, .. }, Value::List { items: b, .. }) => a == b,
            _ => false,
        }
    }
}

impl Value {
    /// Where the value starts.
    pub fn span(&self) -> &Span {
        match self {
            Value::Str { span, .. } | Value::List { span, .. } => span,
        }
    }

    /// A short description for messages: `"text"`, `512` or `a list`.
    pub fn describe(&self) -> String {
        match self {
            Value::Str {
                text, bare: true, ..
            } => text.clone(),
            Value::Str { text, .. } => format!("{text:?}"),
            Value::List { items, .. } => format!("a list of {} element(s)", items.len()),
        }
    }
}

/// `=` or `+=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `key = value`
    Set,
    /// `key += value`
    Append,
}

/// One `key = value` statement as parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// The key.
    pub key: String,
    /// Where the key is.
    pub key_span: Span,
    /// `=` or `+=`.
    pub op: Op,
    /// The value.
    pub value: Value,
}

/// The current value of one key.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// The key.
    pub key: String,
    /// Where the key was last assigned.
    pub key_span: Span,
    /// The value (after every `+=`).
    pub value: Value,
    /// `+=` took part in this value; numeric readers refuse it, as libxlu does.
    pub appended: bool,
}

/// All settings of a file, in order of first assignment; later assignments replace earlier ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    entries: Vec<Setting>,
    index: BTreeMap<String, usize>,
}

impl Settings {
    /// Applies one assignment with libxlu's rules: `=` replaces; `+=` concatenates text or
    /// appends list elements, and a list/text mix is an error.
    pub fn apply(&mut self, a: Assignment) -> Result<(), Box<Diagnostic>> {
        let Some(&i) = self.index.get(&a.key) else {
            self.index.insert(a.key.clone(), self.entries.len());
            self.entries.push(Setting {
                appended: a.op == Op::Append,
                key: a.key,
                key_span: a.key_span,
                value: a.value,
            });
            return Ok(());
        };
        let entry = &mut self.entries[i];
        if a.op == Op::Set {
            entry.key_span = a.key_span;
            entry.value = a.value;
            entry.appended = false;
            return Ok(());
        }
        match (&mut entry.value, a.value) {
            (Value::Str { text, bare, .. }, Value::Str { text: more, .. }) => {
                text.push_str(&more);
                *bare = false;
            }
            (Value::List { items, .. }, Value::List { items: more, .. }) => items.extend(more),
            (old, new) => {
                let what = |v: &Value| match v {
                    Value::List { .. } => "a list",
                    Value::Str { .. } => "a single value",
                };
                return Err(Box::new(Diagnostic::error(
                    DiagKind::AppendMismatch,
                    new.span().clone(),
                    format!("`+=` cannot add {} to {}", what(&new), what(old)),
                )
                .key(a.key)
                .hint(
                    "`+=` concatenates two strings or appends a list to a list; use `=` to replace",
                )));
            }
        }
        entry.appended = true;
        Ok(())
    }

    /// The setting for `key`, if assigned.
    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.index.get(key).map(|&i| &self.entries[i])
    }

    /// Every setting, in order of first assignment.
    pub fn iter(&self) -> impl Iterator<Item = &Setting> {
        self.entries.iter()
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing was assigned.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
