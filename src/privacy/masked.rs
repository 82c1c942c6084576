//! The message as a later pass would see it: the canonical view (see `canonical`) with the
//! findings accepted so far replaced by their placeholders. Detection runs in stages
//! (highest priority first) on this masked text, so that every stage judges its candidates
//! against the same surroundings as a second `redact` pass would, which keeps `redact`
//! idempotent.
//!
//! A finding is widened to whole clusters of the original text (a character with its
//! combining marks, a run of white space) before it is masked: exactly what `redact` will
//! remove from the original, so that the masked text is the canonical view of the redacted
//! message.

use super::canonical::Canonical;
use super::{Finding, PiiKind};

/// A replaced region: `masked` range in the masked text, `canonical` range in the
/// canonical view.
#[derive(Debug, Clone, Copy)]
struct Region {
    masked: (usize, usize),
    canonical: (usize, usize),
}

pub(super) struct Masked<'a> {
    canonical: &'a Canonical,
    /// Accepted findings in canonical offsets, widened to whole clusters, sorted by start,
    /// disjoint.
    findings: Vec<Finding>,
    text: String,
    regions: Vec<Region>,
}

impl<'a> Masked<'a> {
    pub fn new(canonical: &'a Canonical) -> Self {
        Masked {
            canonical,
            findings: Vec::new(),
            text: canonical.text().to_owned(),
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
            .filter(|f| f.start < f.end)
            .filter_map(|f| {
                let (start, end) = self.to_canonical(f.start, f.end)?;
                let (os, oe) = self.canonical.to_original(start, end);
                let (start, end) = self.canonical.covered(os, oe);
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
        // Widening may make two findings share a cluster: one finding of the
        // higher-priority kind then covers both.
        let mut merged: Vec<Finding> = Vec::with_capacity(self.findings.len());
        for f in self.findings.drain(..) {
            match merged.last_mut() {
                Some(last) if f.start < last.end => {
                    last.end = last.end.max(f.end);
                    last.kind = higher(last.kind, f.kind);
                }
                _ => merged.push(f),
            }
        }
        self.findings = merged;
        self.rebuild();
    }

    /// All accepted findings in offsets of the original text, sorted by start.
    pub fn into_findings(self) -> Vec<Finding> {
        self.findings
            .iter()
            .map(|f| {
                let (start, end) = self.canonical.to_original(f.start, f.end);
                Finding {
                    kind: f.kind,
                    start,
                    end,
                }
            })
            .collect()
    }

    /// Maps a masked span that does not overlap a placeholder back to the
    /// canonical view.
    fn to_canonical(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        let mut shift: isize = 0;
        for r in &self.regions {
            if start < r.masked.1 && r.masked.0 < end {
                return None;
            }
            if r.masked.1 <= start {
                shift = r.canonical.1 as isize - r.masked.1 as isize;
            }
        }
        let map = |pos: usize| pos.checked_add_signed(shift);
        Some((map(start)?, map(end)?))
    }

    fn rebuild(&mut self) {
        let canonical = self.canonical.text();
        let mut text = String::with_capacity(canonical.len());
        let mut regions = Vec::with_capacity(self.findings.len());
        let mut pos = 0;
        for f in &self.findings {
            text.push_str(&canonical[pos..f.start]);
            let masked_start = text.len();
            text.push_str(f.kind.placeholder());
            regions.push(Region {
                masked: (masked_start, text.len()),
                canonical: (f.start, f.end),
            });
            pos = f.end;
        }
        text.push_str(&canonical[pos..]);
        self.text = text;
        self.regions = regions;
    }
}

fn higher(a: PiiKind, b: PiiKind) -> PiiKind {
    if b.rank() < a.rank() { b } else { a }
}
