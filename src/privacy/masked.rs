//! The message as a later pass would see it: findings accepted so far are
//! replaced by their placeholders. Detection runs in stages (highest
//! priority first) on this masked text, so that every stage judges its
//! candidates against the same surroundings as a second `redact` pass would,
//! which keeps `redact` idempotent.

use super::Finding;

/// A replaced region: `masked` range in the masked text, `original` range in
/// the original text.
#[derive(Debug, Clone, Copy)]
struct Region {
    masked: (usize, usize),
    original: (usize, usize),
}

pub(super) struct Masked<'a> {
    original: &'a str,
    /// Accepted findings in original offsets, sorted by start.
    findings: Vec<Finding>,
    text: String,
    regions: Vec<Region>,
}

impl<'a> Masked<'a> {
    pub fn new(original: &'a str) -> Self {
        Masked {
            original,
            findings: Vec::new(),
            text: original.to_owned(),
            regions: Vec::new(),
        }
    }

    /// The current masked text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Accepts findings given in masked offsets. Findings that overlap an
    /// existing placeholder are ignored.
    pub fn accept(&mut self, findings: Vec<Finding>) {
        let mapped: Vec<Finding> = findings
            .into_iter()
            .filter_map(|f| {
                let (start, end) = self.to_original(f.start, f.end)?;
                Some(Finding {
                    kind: f.kind,
                    start,
                    end,
                })
            })
            .collect();
        if mapped.is_empty() {
            return;
        }
        self.findings.extend(mapped);
        self.findings.sort_by_key(|f| f.start);
        self.rebuild();
    }

    /// All accepted findings in original offsets, sorted by start.
    pub fn into_findings(self) -> Vec<Finding> {
        self.findings
    }

    /// Maps a masked span that does not overlap a placeholder back to the
    /// original text.
    fn to_original(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        let mut shift: isize = 0;
        for r in &self.regions {
            if start < r.masked.1 && r.masked.0 < end {
                return None;
            }
            if r.masked.1 <= start {
                shift = r.original.1 as isize - r.masked.1 as isize;
            }
        }
        let map = |pos: usize| pos.checked_add_signed(shift);
        Some((map(start)?, map(end)?))
    }

    fn rebuild(&mut self) {
        let mut text = String::with_capacity(self.original.len());
        let mut regions = Vec::with_capacity(self.findings.len());
        let mut pos = 0;
        for f in &self.findings {
            text.push_str(&self.original[pos..f.start]);
            let masked_start = text.len();
            text.push_str(f.kind.placeholder());
            regions.push(Region {
                masked: (masked_start, text.len()),
                original: (f.start, f.end),
            });
            pos = f.end;
        }
        text.push_str(&self.original[pos..]);
        self.text = text;
        self.regions = regions;
    }
}
