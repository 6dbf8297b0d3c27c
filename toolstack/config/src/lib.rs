//! The xl.cfg language: parser, typed domain model and device specs.
//!
//! ```text
//! text ──lexer──▶ tokens ──parser──▶ Settings (values with spans, last wins, += appends)
//!      ──reader/model──▶ DomainConfig ──validate──▶ problems
//!                        DomainConfig ──json──▶ libxl_domain_config JSON (`xl -N create`)
//!                        DomainConfig ──print──▶ xl.cfg text
//! ```
//!
//! Entry points: [`load`], [`load_with_overrides`], [`parse_str`], [`parse_str_with_overrides`].
//! Every problem is a [`Diagnostic`] with file, line, column, key, expectation and hint; nothing
//! here panics on any input.

pub mod diag;
pub mod json;
pub mod keys;
pub mod lexer;
pub mod model;
pub mod parser;
pub mod print;
pub mod python;
pub mod reader;
pub mod source;
pub mod spec;
pub mod suggest;
pub mod validate;
pub mod value;

use std::path::Path;
use std::sync::Arc;

pub use diag::{ConfigErrors, DiagKind, Diagnostic, Severity, Span};
pub use model::DomainConfig;
pub use source::Source;
pub use value::{Settings, Value};

/// The source name xl (and rxl) gives to `key=value` overrides from the command line.
pub const COMMAND_LINE: &str = "command line";

/// A configuration that loaded without errors.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The typed configuration.
    pub config: DomainConfig,
    /// The raw settings (with positions), after overrides.
    pub settings: Settings,
    /// Warnings (never errors), in source order.
    pub warnings: Vec<Diagnostic>,
}

/// Reads, parses and checks the domain file at `path`.
pub fn load(path: impl AsRef<Path>) -> Result<Loaded, ConfigErrors> {
    load_with_overrides(path, &[] as &[&str])
}

/// Like [`load`], then applies `key=value` overrides as xl does: each one is read as an extra
/// line after the file, so the last assignment wins (and `key+=value` appends).
pub fn load_with_overrides(
    path: impl AsRef<Path>,
    overrides: &[impl AsRef<str>],
) -> Result<Loaded, ConfigErrors> {
    let path = path.as_ref();
    let name: Arc<str> = Arc::from(path.display().to_string());
    let bytes = std::fs::read(path).map_err(|e| ConfigErrors {
        diagnostics: vec![
            Diagnostic::error(DiagKind::Io, Span::file(&name), format!("cannot read: {e}"))
                .hint("check the path and its permissions"),
        ],
    })?;
    let (text, warning) = match String::from_utf8(bytes) {
        Ok(t) => (t, None),
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let src = Source::new(name.clone(), text.clone());
            let d = Diagnostic::warning(
                DiagKind::Encoding,
                src.span(offset.min(text.len())),
                "the file is not valid UTF-8; invalid bytes were replaced by U+FFFD",
            )
            .hint("save the file as UTF-8 (or ASCII)");
            (text, Some(d))
        }
    };
    let mut r = parse_str_with_overrides(name, &text, overrides);
    if let Some(w) = warning {
        match &mut r {
            Ok(l) => l.warnings.insert(0, w),
            Err(e) => e.diagnostics.insert(0, w),
        }
    }
    r
}

/// Parses and checks `text`, naming it `name` in diagnostics.
pub fn parse_str(name: impl Into<Arc<str>>, text: &str) -> Result<Loaded, ConfigErrors> {
    parse_str_with_overrides(name, text, &[] as &[&str])
}

/// [`parse_str`] plus command-line `key=value` overrides (see [`load_with_overrides`]).
pub fn parse_str_with_overrides(
    name: impl Into<Arc<str>>,
    text: &str,
    overrides: &[impl AsRef<str>],
) -> Result<Loaded, ConfigErrors> {
    let name = name.into();
    let src = Source::new(name.clone(), text);
    let mut settings = Settings::default();
    let mut diags = parser::parse_into(&src, &mut settings);
    if !overrides.is_empty() {
        let joined: Vec<&str> = overrides.iter().map(AsRef::as_ref).collect();
        let cmd = Source::new(COMMAND_LINE, joined.join("\n"));
        diags.extend(parser::parse_into(&cmd, &mut settings));
    }
    if diags.iter().any(Diagnostic::is_error) {
        return Err(ConfigErrors { diagnostics: diags });
    }
    let mut reader = reader::Reader::new(&settings, name.clone());
    let config = DomainConfig::from_settings(&mut reader, &settings);
    // Create-time checks build on the values read; after a bad value they would only add noise
    // (an invalid `type` would be checked as PV), so they run on a clean read only.
    let read_ok = !reader.diags.iter().any(Diagnostic::is_error);
    diags.append(&mut reader.diags);
    diags.extend(key_diagnostics(&settings, &reader.used));
    let problems = if read_ok {
        config.validate()
    } else {
        Vec::new()
    };
    for problem in problems {
        let span = problem
            .key
            .and_then(|k| settings.get(k))
            .map_or_else(|| Span::file(&name), |s| s.key_span.clone());
        let mut d =
            Diagnostic::error(DiagKind::Validation, span, problem.message).hint(problem.hint);
        d.severity = problem.severity;
        d.key = problem.key.map(str::to_string);
        diags.push(d);
    }
    diag::sort(&mut diags);
    if diags.iter().any(Diagnostic::is_error) {
        // Errors first, so the reader sees what stops the file before the advice.
        diags.sort_by_key(|d| d.severity);
        return Err(ConfigErrors { diagnostics: diags });
    }
    Ok(Loaded {
        config,
        settings,
        warnings: diags,
    })
}

/// Warnings about keys: unknown ones (with "did you mean"), deprecated ones, xm-era leftovers,
/// and xl keys rxl does not act on yet.
fn key_diagnostics(
    settings: &Settings,
    used: &std::collections::BTreeSet<String>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for s in settings.iter() {
        let k = s.key.as_str();
        let span = s.key_span.clone();
        if let Some(repl) = keys::deprecated(k) {
            out.push(
                Diagnostic::warning(DiagKind::DeprecatedKey, span, "deprecated key")
                    .key(k)
                    .hint(format!("use {repl}")),
            );
        } else if keys::is_xl_key(k) {
            if !used.contains(k) {
                out.push(
                    Diagnostic::warning(
                        DiagKind::UnsupportedKey,
                        span,
                        "xl reads this key, but rxl does not support it yet; it is ignored",
                    )
                    .key(k)
                    .hint("see docs/xl-compat.md for the keys rxl supports"),
                );
            }
        } else if let Some(instead) = keys::xm_key(k) {
            out.push(
                Diagnostic::warning(DiagKind::UnknownKey, span, "xm-era key; xl ignores it")
                    .key(k)
                    .hint(format!("remove it; instead: {instead}")),
            );
        } else {
            let hint = match suggest::closest(k, keys::XL_KEYS.iter().copied()) {
                Some(c) => format!("did you mean `{c}`?"),
                None => "xl ignores unknown keys silently; check the spelling against xl.cfg(5)"
                    .to_string(),
            };
            out.push(
                Diagnostic::warning(DiagKind::UnknownKey, span, "unknown key; xl ignores it")
                    .key(k)
                    .hint(hint),
            );
        }
    }
    out
}
