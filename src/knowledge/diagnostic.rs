//! What `loket kb check` reports: a problem in a content file, with the file, the line and
//! a hint that tells a content editor how to fix it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// The kinds of problem; the service refuses a knowledge base with any error except those
/// that only concern the calendar (an expired entry is simply not served).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    Syntax,
    MissingField,
    InvalidValue,
    UnknownField,
    UnknownIntent,
    UnknownDepartment,
    UnknownUpl,
    DuplicateId,
    BrokenReference,
    TooLong,
    Expired,
    Tone,
    /// A `{placeholder}` in a text that Loket cannot fill there, or a required one missing.
    Placeholder,
    Coverage,
    Io,
}

#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub problem: Problem,
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
    pub hint: String,
}

impl Diagnostic {
    pub fn error(
        problem: Problem,
        file: &Path,
        line: usize,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            problem,
            file: file.to_path_buf(),
            line: line.max(1),
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// The same finding as a warning: shown, but the content still loads.
    pub fn as_warning(self) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..self
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Errors that stop the service from using a new version of the content.
    pub fn blocks_serving(&self) -> bool {
        self.is_error() && self.problem != Problem::Expired
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "fout",
            Severity::Warning => "waarschuwing",
        };
        write!(
            f,
            "{}:{}: {level}: {}",
            self.file.display(),
            self.line,
            self.message
        )?;
        if !self.hint.is_empty() {
            write!(f, "\n  oplossing: {}", self.hint)?;
        }
        Ok(())
    }
}

/// 1-based line of a byte offset in `text`.
pub fn line_of_offset(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

/// 1-based line of the first top-level `key:` (YAML) or `key =` (TOML) in `text`.
pub fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let rest = match l.strip_prefix(key) {
                Some(r) => r,
                None => return false,
            };
            let rest = rest.trim_start();
            rest.starts_with(':') || rest.starts_with('=')
        })
        .map(|i| i + 1)
}

/// 1-based line of the first line that contains `needle`.
pub fn line_containing(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}
