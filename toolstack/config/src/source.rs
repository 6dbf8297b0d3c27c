//! A named source text and the mapping from byte offsets to line and column.

use std::sync::Arc;

use crate::diag::Span;

/// One xl.cfg text with its name (the path as the user wrote it, or `command line`).
#[derive(Debug, Clone)]
pub struct Source {
    name: Arc<str>,
    text: String,
    line_starts: Vec<usize>,
}

impl Source {
    /// Wraps `text`, naming it `name` in diagnostics.
    pub fn new(name: impl Into<Arc<str>>, text: impl Into<String>) -> Source {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// The source name.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The whole text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The 1-based line number containing byte `offset`.
    pub fn line_of(&self, offset: usize) -> u32 {
        let idx = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        u32::try_from(idx + 1).unwrap_or(u32::MAX)
    }

    /// The text of 1-based line `line`, without its line ending.
    pub fn line_text(&self, line: u32) -> &str {
        let i = (line as usize).saturating_sub(1);
        let Some(&start) = self.line_starts.get(i) else {
            return "";
        };
        let end = self
            .line_starts
            .get(i + 1)
            .map_or(self.text.len(), |&e| e - 1);
        self.text[start..end].trim_end_matches('\r')
    }

    /// The span (file, line, column) of byte `offset`. Columns count characters, from 1.
    pub fn span(&self, offset: usize) -> Span {
        let offset = offset.min(self.text.len());
        let line = self.line_of(offset);
        let start = self.line_starts[(line - 1) as usize];
        // `offset` always sits on a char boundary: the lexer only cuts at token edges.
        let col = self
            .text
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        Span {
            file: self.name.clone(),
            line,
            column: u32::try_from(col).unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_are_one_based_and_count_chars() {
        let s = Source::new("f", "ab\né = 1\n");
        assert_eq!(s.span(0).line, 1);
        assert_eq!(s.span(1).column, 2);
        let sp = s.span(s.text().find('=').unwrap());
        assert_eq!((sp.line, sp.column), (2, 3));
        assert_eq!(s.line_text(2), "é = 1");
        assert_eq!(s.line_text(9), "");
    }
}
