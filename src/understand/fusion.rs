//! Fitting the fusion weights on the content itself, without leakage: the entries' example
//! questions, each scored by features that have not seen it.

use super::{FusionWeights, NF, Snapshot};
use crate::search::FaqIndex;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FitError(String);

/// What the fit depends on besides the intent head (whose key is `head_key`): every entry's
/// id, intent, title, questions, tags and answer. The same content fits the same weights,
/// so a restart (or another municipality with the same entries) reads them from the cache.
///
/// Where a national library is served, the key (and so the fit) is the library's alone: the
/// entries it serves, as written (without the municipality's facts), with the head. Every
/// municipality that serves the same library entries shares one fit, fitted on the first of
/// them to start; an edit of a municipality's own entries does not fit again. (The library is
/// most of each municipality's content, and the weights balance kinds of evidence, not
/// entries.)
pub(super) fn cache_key(head_key: &str, entries: &[crate::knowledge::Entry]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    // Bump the version when the fit changes: weights fitted by older code are fitted again.
    h.update(b"fusion-v1");
    h.update(head_key.as_bytes());
    let library = entries.iter().any(|e| e.from_library);
    if library {
        h.update(b"library");
    }
    for e in entries.iter().filter(|e| !library || e.from_library) {
        let (title, answer) = match e.unfilled.as_deref() {
            Some(u) => (&u.title, &u.answer),
            None => (&e.title, &e.answer),
        };
        for part in [&e.id, &e.intent, title, answer] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        for part in e.questions_as_written().iter().chain(&e.tags) {
            h.update(part.as_bytes());
            h.update([1]);
        }
    }
    hex::encode(&h.finalize()[..16])
}

/// What the fit learns from the content: the fusion weights, and the confidence from which
/// the best entry is answered without asking.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Fitted {
    pub weights: FusionWeights,
    /// For entries with an intent, and for entries without one (a library page).
    pub answer_at: f32,
    pub answer_at_library: f32,
}

/// The share of the held-out questions that may be answered wrongly when the answer
/// threshold is chosen: the promise for citizens' messages (at most 5% of the messages that
/// deserve an answer get a wrong one; the rest are answered right or asked to clarify).
const WRONG_TARGET: f64 = 0.05;

/// Fits the fusion weights by maximum likelihood of the right entry, on the entries' own
/// example questions held out in turn, in two regimes that share the weights:
/// - *warm*: each question searched in an index built without it, compared with the entry's
///   other questions only, with the intent head's cross-validated probabilities;
/// - *cold*: as if no entry had questions or an intent (a library page as it arrives):
///   titles, answer passages and an index of titles and answers only.
///
/// No feature has seen the question it scores. A question that is its entry's title is left
/// out: its title would find it. The answer threshold is then the lowest confidence at which
/// at most [`WRONG_TARGET`] of the held-out questions would be answered wrongly.
pub(super) fn fit_fusion(
    snap: &Snapshot,
    train_vecs: &[Vec<f32>],
    first_question: usize,
) -> Result<Fitted, FitError> {
    const FOLDS: usize = 4;
    if snap.head.cv_probabilities.is_empty() || snap.kb.entries.len() < 2 {
        return Err(FitError("too few examples".into()));
    }
    let entries = &snap.kb.entries;
    // Every question as (entry, its vector's index within the entry, training row).
    let mut questions = Vec::new();
    let mut row = first_question;
    for (i, e) in entries.iter().enumerate() {
        if e.intent.is_empty() {
            continue;
        }
        let title = crate::text::normalize(&e.title);
        for (j, q) in e.questions.iter().enumerate() {
            // Vector 0 of an entry is its title; question j is vector j + 1.
            if crate::text::normalize(q) != title {
                questions.push((i, j + 1, row));
            }
            row += 1;
        }
    }
    if questions.is_empty() {
        return Err(FitError("no example questions".into()));
    }
    let bm25 = held_out_bm25(entries, &questions, FOLDS)?;
    let cold_bm25 = cold_bm25(entries, &questions)?;
    let query_rows: Vec<&[f32]> = questions
        .iter()
        .map(|&(_, _, r)| &train_vecs[r][..])
        .collect();
    let own = best_cosines(&query_rows, &snap.entry_vectors, |q, i, j| {
        (i, j) != (questions[q].0, questions[q].1)
    });
    let titles = best_cosines(&query_rows, &snap.entry_vectors, |_, _, j| j == 0);
    let passage = best_cosines(&query_rows, &snap.passage_vectors, |_, _, _| true);
    // The warm samples, then the cold ones.
    let mut samples: Vec<(Vec<[f32; NF]>, usize)> = Vec::with_capacity(2 * questions.len());
    let mut colds = Vec::with_capacity(questions.len());
    for (q, &(entry, _, row)) in questions.iter().enumerate() {
        let probs = &snap.head.cv_probabilities[row];
        let warm = snap.assemble_features(probs, &bm25[q], |i| own[q][i], |i| passage[q][i]);
        samples.push((warm, entry));
        let mut cold =
            snap.assemble_features(probs, &cold_bm25[q], |i| titles[q][i], |i| passage[q][i]);
        let support = snap.answerable(probs).max(1e-4).ln();
        for f in &mut cold {
            f[0] = support;
        }
        colds.push((cold, entry));
    }
    samples.extend(colds);
    let w = fit_weights(&samples, FusionWeights::default().as_array());
    let weights = FusionWeights::from_array(w);
    // An answer is right when it is the entry or one about the same product.
    let same = |a: usize, b: usize| {
        a == b || (!entries[a].upl.is_empty() && entries[a].upl == entries[b].upl)
    };
    let (warm, cold) = samples.split_at(questions.len());
    let answer_at = answer_threshold(warm, weights, same);
    let answer_at_library = answer_threshold(cold, weights, same);
    let top1 = |part: &[(Vec<[f32; NF]>, usize)]| {
        let right = part
            .iter()
            .filter(|(f, y)| best_of(f, weights).0 == *y)
            .count();
        right as f64 / part.len().max(1) as f64
    };
    tracing::info!(
        ?weights,
        answer_at,
        answer_at_library,
        questions = questions.len(),
        warm_recall_at_1 = top1(warm),
        cold_recall_at_1 = top1(cold),
        "fusion fitted on held-out example questions"
    );
    Ok(Fitted {
        weights,
        answer_at,
        answer_at_library,
    })
}

/// The best candidate under weights `w` and its softmax confidence.
fn best_of(features: &[[f32; NF]], w: FusionWeights) -> (usize, f32) {
    let (z, _, e) = softmax_parts(features, w.as_array().map(f64::from));
    let best = (0..z.len())
        .max_by(|&a, &b| z[a].total_cmp(&z[b]))
        .unwrap_or(0);
    (best, (e[best] / e.iter().sum::<f64>()) as f32)
}

/// The lowest confidence of the best entry from which the samples answered wrongly
/// (`right(best, expected)` false) are at most [`WRONG_TARGET`] of all samples; at least 0.3.
fn answer_threshold(
    samples: &[(Vec<[f32; NF]>, usize)],
    w: FusionWeights,
    right: impl Fn(usize, usize) -> bool,
) -> f32 {
    let mut scored: Vec<(f32, bool)> = samples
        .iter()
        .map(|(f, y)| {
            let (best, conf) = best_of(f, w);
            (conf, right(best, *y))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    // Walk down from the most confident: the threshold is the lowest confidence at which
    // the questions answered wrongly are still at most the target share of all of them.
    let allowed = WRONG_TARGET * scored.len() as f64;
    let (mut wrong, mut at) = (0usize, 1.0f32);
    for (conf, right) in &scored {
        wrong += usize::from(!right);
        if wrong as f64 > allowed {
            break;
        }
        at = *conf;
    }
    at.max(0.3)
}

/// The BM25 score of every entry for every question in an index of titles, answers and
/// tags only (no example questions): how a library page is found.
fn cold_bm25(
    entries: &[crate::knowledge::Entry],
    questions: &[(usize, usize, usize)],
) -> Result<Vec<Vec<f32>>, FitError> {
    let bare: Vec<crate::knowledge::Entry> = entries
        .iter()
        .map(|e| crate::knowledge::Entry {
            questions: Vec::new(),
            ..e.clone()
        })
        .collect();
    let index = FaqIndex::build(&bare).map_err(|e| FitError(e.to_string()))?;
    Ok(questions
        .iter()
        .map(|&(i, j, _)| index.scores(&entries[i].questions[j - 1], entries.len()))
        .collect())
}

/// For every query, the best cosine to each entry's vectors among those `keep` lets count
/// (`keep(query, entry, vector)`): one matrix product, the vectors being unit length.
fn best_cosines(
    queries: &[&[f32]],
    vectors: &[Vec<std::sync::Arc<[f32]>>],
    keep: impl Fn(usize, usize, usize) -> bool,
) -> Vec<Vec<f32>> {
    let dim = queries.first().map_or(0, |q| q.len());
    let owners: Vec<(usize, usize)> = vectors
        .iter()
        .enumerate()
        .flat_map(|(i, vs)| (0..vs.len()).map(move |j| (i, j)))
        .collect();
    let flat_vectors: Vec<f32> = vectors
        .iter()
        .flatten()
        .flat_map(|v| v.iter().copied())
        .collect();
    let flat_queries: Vec<f32> = queries.iter().flat_map(|q| q.iter().copied()).collect();
    let nv = owners.len();
    let mut sims = vec![0f32; queries.len() * nv];
    if nv > 0 && dim > 0 {
        crate::classifier::matmul::matmul(
            (queries.len(), nv, dim),
            &mut sims,
            &flat_queries,
            (dim, 1),
            &flat_vectors,
            (1, dim),
        );
    }
    (0..queries.len())
        .map(|q| {
            let mut best = vec![-1f32; vectors.len()];
            for (&(i, j), &s) in owners.iter().zip(&sims[q * nv..(q + 1) * nv]) {
                if keep(q, i, j) {
                    best[i] = best[i].max(s);
                }
            }
            best
        })
        .collect()
}

/// The BM25 score of every entry for every question, searched in an index without the
/// question: questions go to `folds` folds by their place in their entry, and each fold's
/// index (built from the other folds' questions) is built and searched on a core of its own.
fn held_out_bm25(
    entries: &[crate::knowledge::Entry],
    questions: &[(usize, usize, usize)],
    folds: usize,
) -> Result<Vec<Vec<f32>>, FitError> {
    let fold_of = |j: usize| (j - 1) % folds;
    let run_fold = |fold: usize| -> Result<Vec<(usize, Vec<f32>)>, FitError> {
        let reduced: Vec<crate::knowledge::Entry> = entries
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.questions = e
                    .questions
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| j % folds != fold)
                    .map(|(_, q)| q.clone())
                    .collect();
                e
            })
            .collect();
        let index = FaqIndex::build(&reduced).map_err(|e| FitError(e.to_string()))?;
        let mut out = Vec::new();
        for (q, &(i, j, _)) in questions.iter().enumerate() {
            if fold_of(j) == fold {
                out.push((q, index.scores(&entries[i].questions[j - 1], entries.len())));
            }
        }
        Ok(out)
    };
    let all: Vec<usize> = (0..folds).collect();
    let parts = crate::parallel::map_on_cores(&all, |&fold| run_fold(fold));
    let mut bm25 = vec![Vec::new(); questions.len()];
    for part in parts {
        for (q, scores) in part? {
            bm25[q] = scores;
        }
    }
    Ok(bm25)
}

/// The scores `w·x` of each candidate's features `x`, their largest, and the unnormalised
/// softmax `exp(w·x - max)` (shifted so that it cannot overflow).
fn softmax_parts<const N: usize>(features: &[[f32; N]], w: [f64; N]) -> (Vec<f64>, f64, Vec<f64>) {
    let z: Vec<f64> = features
        .iter()
        .map(|x| (0..N).map(|d| w[d] * x[d] as f64).sum())
        .collect();
    let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e = z.iter().map(|v| (v - max).exp()).collect();
    (z, max, e)
}

/// The non-negative weights maximising the likelihood of the right entry under a softmax
/// over entries (a convex problem in N variables): projected Newton steps with
/// backtracking, from `start`.
fn fit_weights<const N: usize>(samples: &[(Vec<[f32; N]>, usize)], start: [f32; N]) -> [f32; N] {
    // Mean negative log-likelihood, its gradient and its Hessian at `w`.
    let evaluate = |w: [f64; N]| -> (f64, [f64; N], [[f64; N]; N]) {
        let (mut loss, mut g, mut h) = (0.0, [0.0; N], [[0.0; N]; N]);
        for (f, y) in samples {
            let (z, max, e) = softmax_parts(f, w);
            let sum: f64 = e.iter().sum();
            loss += sum.ln() + max - z[*y];
            let mut mean = [0.0; N];
            let mut second = [[0.0; N]; N];
            for (x, ek) in f.iter().zip(&e) {
                let p = ek / sum;
                for a in 0..N {
                    mean[a] += p * x[a] as f64;
                    for b in 0..N {
                        second[a][b] += p * x[a] as f64 * x[b] as f64;
                    }
                }
            }
            for a in 0..N {
                g[a] += mean[a] - f[*y][a] as f64;
                for b in 0..N {
                    h[a][b] += second[a][b] - mean[a] * mean[b];
                }
            }
        }
        let n = samples.len().max(1) as f64;
        (loss / n, g.map(|v| v / n), h.map(|row| row.map(|v| v / n)))
    };
    let mut w = start.map(f64::from);
    let (mut loss, mut g, mut h) = evaluate(w);
    for _ in 0..50 {
        // Weights held at zero by a gradient pushing them below stay there.
        let free: Vec<usize> = (0..N).filter(|&d| w[d] > 0.0 || g[d] < 0.0).collect();
        if free.is_empty() {
            break;
        }
        // A singular Hessian (features that move together) falls back to the gradient.
        let step = solve(&h, &g, &free)
            .unwrap_or_else(|| std::array::from_fn(|d| if free.contains(&d) { g[d] } else { 0.0 }));
        let mut t = 1.0;
        let mut moved = false;
        for _ in 0..30 {
            let next: [f64; N] = std::array::from_fn(|d| (w[d] - t * step[d]).max(0.0));
            let (l, ng, nh) = evaluate(next);
            if l < loss {
                let change: f64 = (0..N).map(|d| (next[d] - w[d]).abs()).sum();
                (w, loss, g, h) = (next, l, ng, nh);
                moved = change > 1e-6 * (1.0 + w.iter().sum::<f64>());
                break;
            }
            t /= 2.0;
        }
        if !moved {
            break;
        }
    }
    w.map(|v| v as f32)
}

/// The Newton step `H⁻¹ g` on the `free` coordinates (zero elsewhere), by Gaussian
/// elimination; None when the system is singular.
fn solve<const N: usize>(h: &[[f64; N]; N], g: &[f64; N], free: &[usize]) -> Option<[f64; N]> {
    let n = free.len();
    if n == 0 {
        return None;
    }
    let mut a = vec![vec![0.0; n + 1]; n];
    for (r, &i) in free.iter().enumerate() {
        for (c, &j) in free.iter().enumerate() {
            a[r][c] = h[i][j];
        }
        a[r][n] = g[i];
    }
    let scale = h.iter().flatten().fold(1.0f64, |m, v| m.max(v.abs()));
    for col in 0..n {
        let pivot = (col..n).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 * scale {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let factor = row[col] / pivot_row[col];
                for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                    *x -= factor * p;
                }
            }
        }
    }
    let mut step = [0.0; N];
    for (r, &i) in free.iter().enumerate() {
        step[i] = a[r][n] / a[r][r];
    }
    Some(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Samples drawn from the model itself: the fit finds the weights that made them.
    #[test]
    fn fusion_weights_recover_the_weights_that_generated_the_choices() {
        let truth = [0.5f64, 12.0, 3.0];
        let mut seed = 11u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut samples = Vec::new();
        for _ in 0..3000 {
            let f: Vec<[f32; 3]> = (0..6)
                .map(|_| {
                    [
                        (rnd() * 0.99 + 0.01).ln() as f32,
                        (rnd() * 0.4 + 0.6) as f32,
                        rnd() as f32,
                    ]
                })
                .collect();
            let (_, _, e) = softmax_parts(&f, truth);
            let mut u = rnd() * e.iter().sum::<f64>();
            let mut y = 0;
            while u > e[y] && y + 1 < e.len() {
                u -= e[y];
                y += 1;
            }
            samples.push((f, y));
        }
        let w = fit_weights(&samples, [1.0, 25.0, 2.0]);
        for d in 0..3 {
            let rel = (w[d] as f64 - truth[d]).abs() / truth[d];
            assert!(rel < 0.25, "weight {d}: {} for {}", w[d], truth[d]);
        }
    }

    /// A feature that works against the right entry gets weight zero, not a negative one.
    #[test]
    fn fusion_weights_stay_non_negative() {
        let samples: Vec<(Vec<[f32; 3]>, usize)> = (0..300)
            .map(|i| {
                let y = i % 3;
                // The first feature points at the right entry, except in one sample in five.
                let marked = if i % 5 == 0 { (y + 1) % 3 } else { y };
                // The third is high on one of the wrong entries only.
                let wrong = (y + 1 + i % 2) % 3;
                let f = (0..3)
                    .map(|k| {
                        let jitter = ((i + 2 * k) % 4) as f32 * 0.1;
                        [
                            if k == marked { 0.0 } else { -1.0 },
                            0.5 + jitter,
                            if k == wrong { 1.0 } else { 0.0 },
                        ]
                    })
                    .collect();
                (f, y)
            })
            .collect();
        let w = fit_weights(&samples, [1.0, 25.0, 2.0]);
        assert!(w.iter().all(|v| *v >= 0.0), "{w:?}");
        assert_eq!(w[2], 0.0, "{w:?}");
        assert!(w[0] > 0.5, "{w:?}");
    }

    #[test]
    fn newton_steps_solve_the_free_coordinates_only() {
        let h = [[2.0, 0.0, 0.0], [0.0, 4.0, 1.0], [0.0, 1.0, 2.0]];
        let g = [2.0, 5.0, 3.0];
        let all = solve(&h, &g, &[0, 1, 2]).unwrap();
        for r in 0..3 {
            let hx: f64 = (0..3).map(|c| h[r][c] * all[c]).sum();
            assert!((hx - g[r]).abs() < 1e-6);
        }
        let some = solve(&h, &g, &[1]).unwrap();
        assert_eq!(some[0], 0.0);
        assert_eq!(some[2], 0.0);
        assert!((some[1] - 1.25).abs() < 1e-6);
        assert!(solve(&[[0.0; 3]; 3], &g, &[0]).is_none());
        let collinear = [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        assert!(solve(&collinear, &g, &[0, 1]).is_none());
        assert!(solve(&h, &g, &[]).is_none());
    }
}
