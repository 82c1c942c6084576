//! The intent head: multinomial logistic regression on sentence embeddings, trained at
//! start-up from `intents/`, with its confidence calibrated by temperature scaling fitted on
//! cross-validated predictions (so a reported 0.8 means right about 80% of the time).
//!
//! Training runs full-batch Adam: matrix products for the embedding part, loops over the
//! non-zeros of the lexical features (see `fit`), the cross-validation folds on their own
//! threads.

use std::collections::HashMap;

use crate::text::normalize;

#[derive(Debug, thiserror::Error)]
#[error("intent head: {0}")]
pub struct HeadError(String);

#[derive(Debug, Clone)]
pub struct HeadConfig {
    pub epochs: usize,
    pub learning_rate: f64,
    pub l2: f64,
    pub folds: usize,
    /// Weight of the lexical features (hashed character n-grams of the text) appended to the
    /// embedding; 0 uses the embedding alone.
    pub lexical_weight: f32,
}

impl Default for HeadConfig {
    fn default() -> Self {
        HeadConfig {
            // 100 epochs reach the cross-validated accuracy of 150 and 200 (89.6-89.7% on
            // intents/, 94.0-94.3% on xSID; see BENCHMARKS.md), at two thirds of the time.
            epochs: 100,
            learning_rate: 0.1,
            l2: 1e-4,
            folds: 4,
            lexical_weight: 0.5,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct IntentHead {
    labels: Vec<String>,
    /// `[classes, dim]`, row-major.
    weights: Vec<f32>,
    bias: Vec<f32>,
    dim: usize,
    /// Softmax temperature fitted on cross-validated logits.
    pub temperature: f32,
    lexical_weight: f32,
    /// Calibrated cross-validated probabilities of each training example (empty when there
    /// were too few examples for folds): honest inputs for fitting what builds on the head.
    pub cv_probabilities: Vec<Vec<f32>>,
    /// The training examples by their normalised text, with their class, where the text
    /// belongs to one class only (see [`IntentHead::predict`]).
    #[serde(default)]
    examples: HashMap<String, usize>,
}

/// The probability at least given to the class of a message that is one of the training
/// examples (normalised): an editor's own example is recognised as what they wrote it for.
pub const EXAMPLE_PROBABILITY: f32 = 0.95;

impl IntentHead {
    /// Trains on `(embedding, text, label)` triples; `labels` fixes the class order.
    pub fn train(
        embeddings: &[Vec<f32>],
        texts: &[String],
        ys: &[usize],
        labels: Vec<String>,
        cfg: &HeadConfig,
    ) -> Result<IntentHead, HeadError> {
        if embeddings.is_empty() || embeddings.len() != ys.len() || texts.len() != ys.len() {
            return Err(HeadError("no training examples".into()));
        }
        let xs: Vec<Vec<f32>> = embeddings
            .iter()
            .zip(texts)
            .map(|(e, t)| featurize(e, t, cfg.lexical_weight))
            .collect();
        let xs = &xs[..];
        let dim = xs[0].len();
        let k = labels.len();
        if let Some(&y) = ys.iter().find(|&&y| y >= k) {
            return Err(HeadError(format!("label {y} of {k}")));
        }
        let design = Design::new(xs, embeddings[0].len());
        // The folds for calibration (cross-validated logits) and the final fit on all
        // examples are independent: they run side by side.
        let folds = if cfg.folds >= 2 && xs.len() >= cfg.folds * 2 {
            cfg.folds
        } else {
            0
        };
        let all: Vec<usize> = (0..xs.len()).collect();
        let fold_rows: Vec<Vec<usize>> = (0..folds)
            .map(|fold| (0..xs.len()).filter(|i| i % folds != fold).collect())
            .collect();
        // Job 0 is the final fit, jobs 1.. the folds.
        let jobs: Vec<&[usize]> = std::iter::once(&all[..])
            .chain(fold_rows.iter().map(|r| &r[..]))
            .collect();
        let task = FitTask {
            design: &design,
            ys,
            k,
            cfg,
        };
        let mut results = crate::parallel::map_on_cores(&jobs, |rows| fit(&task, rows)).into_iter();
        let (weights, bias) = results.next().expect("the final fit");
        let fits: Vec<_> = results.collect();
        let mut cv_logits: Vec<Vec<f32>> = vec![Vec::new(); xs.len()];
        for (fold, (w, b)) in fits.iter().enumerate() {
            for i in (0..xs.len()).filter(|i| i % folds == fold) {
                cv_logits[i] = logits(w, b, &xs[i], dim);
            }
        }
        let temperature = if cv_logits[0].is_empty() {
            1.0
        } else {
            fit_temperature(&cv_logits, ys)
        };
        let cv_probabilities = if cv_logits[0].is_empty() {
            Vec::new()
        } else {
            cv_logits.iter().map(|z| softmax(z, temperature)).collect()
        };
        let mut examples: HashMap<String, usize> = HashMap::new();
        let mut ambiguous = Vec::new();
        for (t, &y) in texts.iter().zip(ys) {
            let key = normalize(t);
            if examples
                .insert(key.clone(), y)
                .is_some_and(|other| other != y)
            {
                ambiguous.push(key);
            }
        }
        for key in ambiguous {
            examples.remove(&key);
        }
        examples.remove("");
        Ok(IntentHead {
            labels,
            weights,
            bias,
            dim,
            temperature,
            lexical_weight: cfg.lexical_weight,
            cv_probabilities,
            examples,
        })
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Calibrated probabilities for a message (its embedding and its text), in the order of
    /// `labels()`.
    ///
    /// A message that is one of the training examples (after [`normalize`]: case, accents,
    /// punctuation and spacing aside) gets at least [`EXAMPLE_PROBABILITY`] for the example's
    /// class. A linear model does not fit every example it was trained on (about 1 in 100
    /// of `intents/`, e.g. "mijn roze pasje is verlopen" looked like a lost passport), and
    /// an editor who wrote an example may expect it to be recognised.
    pub fn predict(&self, embedding: &[f32], text: &str) -> Vec<f32> {
        let x = featurize(embedding, text, self.lexical_weight);
        let z = logits(&self.weights, &self.bias, &x, self.dim);
        let mut p = softmax(&z, self.temperature);
        if let Some(&k) = self.examples.get(&normalize(text))
            && p[k] < EXAMPLE_PROBABILITY
        {
            let rest = (1.0 - EXAMPLE_PROBABILITY) / (1.0 - p[k]).max(1e-6);
            for (c, pc) in p.iter_mut().enumerate() {
                *pc = if c == k {
                    EXAMPLE_PROBABILITY
                } else {
                    *pc * rest
                };
            }
        }
        p
    }
}

/// A key for a trained head: the same examples, labels, embedder and settings give the same
/// head, so a restart with unchanged content loads it instead of training again.
pub fn cache_key(
    embedder_id: &str,
    texts: &[String],
    ys: &[usize],
    labels: &[String],
    cfg: &HeadConfig,
) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    // The version of what is stored: a head cached before the examples were kept is
    // trained again.
    h.update(b"head-v2");
    h.update(embedder_id.as_bytes());
    h.update(format!("{cfg:?}").as_bytes());
    for l in labels {
        h.update(l.as_bytes());
        h.update([0]);
    }
    for (t, y) in texts.iter().zip(ys) {
        h.update(t.as_bytes());
        h.update((*y as u32).to_le_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

impl IntentHead {
    /// Loads the head stored under `key` (see [`cache_key`]) in `dir`, or trains it with
    /// `train` and stores it.
    /// [`IntentHead::train_cached`], held once in the process for each `key`: the
    /// municipalities that share the intents and the library's questions share one head.
    pub fn shared(
        dir: Option<&std::path::Path>,
        key: &str,
        train: impl FnOnce() -> Result<IntentHead, HeadError>,
    ) -> Result<std::sync::Arc<IntentHead>, HeadError> {
        use std::sync::{Arc, LazyLock, Mutex, Weak};
        static HEADS: LazyLock<Mutex<HashMap<String, Weak<IntentHead>>>> =
            LazyLock::new(Default::default);
        let held = HEADS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .and_then(Weak::upgrade);
        if let Some(head) = held {
            return Ok(head);
        }
        let head = Arc::new(Self::train_cached(dir, key, train)?);
        let mut heads = HEADS.lock().unwrap_or_else(|e| e.into_inner());
        heads.retain(|_, w| w.strong_count() > 0);
        heads.insert(key.to_string(), Arc::downgrade(&head));
        Ok(head)
    }

    pub fn train_cached(
        dir: Option<&std::path::Path>,
        key: &str,
        train: impl FnOnce() -> Result<IntentHead, HeadError>,
    ) -> Result<IntentHead, HeadError> {
        super::cache::cached_json(dir, &format!("head-{key}"), train)
    }
}

/// The head's input: the sentence embedding, followed by hashed character n-grams of the
/// text when `lexical_weight` > 0. The two disagree on different messages (meaning versus
/// exact wording and typos), and together beat either alone (see BENCHMARKS.md).
fn featurize(embedding: &[f32], text: &str, lexical_weight: f32) -> Vec<f32> {
    let mut x = embedding.to_vec();
    if lexical_weight > 0.0 {
        x.extend(
            super::HashingEmbedder::default()
                .vector(text)
                .into_iter()
                .map(|v| v * lexical_weight),
        );
    }
    x
}

fn logits(w: &[f32], b: &[f32], x: &[f32], dim: usize) -> Vec<f32> {
    b.iter()
        .enumerate()
        .map(|(c, bc)| {
            bc + w[c * dim..(c + 1) * dim]
                .iter()
                .zip(x)
                .map(|(a, b)| a * b)
                .sum::<f32>()
        })
        .collect()
}

pub fn softmax(z: &[f32], temperature: f32) -> Vec<f32> {
    let max = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = z.iter().map(|v| ((v - max) / temperature).exp()).collect();
    let s: f32 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

/// The training examples as the optimiser reads them: the embedding part dense
/// (`[n, dense]`), the lexical part (hashed n-grams, mostly zeros) as its non-zero entries.
struct Design {
    dense: usize,
    dim: usize,
    x: Vec<f32>,
    sparse: Vec<Vec<(u32, f32)>>,
}

impl Design {
    fn new(xs: &[Vec<f32>], dense: usize) -> Design {
        let dim = xs[0].len();
        let mut dense = dense.min(dim);
        // A mostly-zero "embedding" (the lexical stand-in backend's) is cheaper as a list.
        let nonzero = xs
            .iter()
            .flat_map(|x| &x[..dense])
            .filter(|v| **v != 0.0)
            .count();
        if nonzero * 2 < xs.len() * dense {
            dense = 0;
        }
        let mut x = Vec::with_capacity(xs.len() * dense);
        let mut sparse = Vec::with_capacity(xs.len());
        for row in xs {
            x.extend_from_slice(&row[..dense]);
            sparse.push(
                row[dense..]
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v != 0.0)
                    .map(|(j, &v)| ((dense + j) as u32, v))
                    .collect(),
            );
        }
        Design {
            dense,
            dim,
            x,
            sparse,
        }
    }

    fn dense_row(&self, i: usize) -> &[f32] {
        &self.x[i * self.dense..(i + 1) * self.dense]
    }
}

/// `out += Σ v · m[row]` over `(row, v)` pairs, where `m` is `[rows][kp]` and `kp` a
/// multiple of 8. Up to 32 sums stay in registers across all the pairs instead of going
/// through memory for each, in two sets (even and odd pairs) so that consecutive
/// additions need not wait for each other.
#[inline(always)]
fn add_scaled_rows(
    out: &mut [f32],
    m: &[f32],
    kp: usize,
    pairs: impl Iterator<Item = (usize, f32)> + Clone,
) {
    #[inline(always)]
    fn block<const W: usize>(
        out: &mut [f32],
        q: usize,
        m: &[f32],
        kp: usize,
        mut pairs: impl Iterator<Item = (usize, f32)>,
    ) {
        let (mut even, mut odd) = ([0f32; W], [0f32; W]);
        even.copy_from_slice(&out[q..q + W]);
        let row = |r: usize| -> &[f32; W] { m[r * kp + q..r * kp + q + W].try_into().unwrap() };
        while let Some((r, v)) = pairs.next() {
            let src = row(r);
            for l in 0..W {
                even[l] = v.mul_add(src[l], even[l]);
            }
            let Some((r, v)) = pairs.next() else { break };
            let src = row(r);
            for l in 0..W {
                odd[l] = v.mul_add(src[l], odd[l]);
            }
        }
        for l in 0..W {
            out[q + l] = even[l] + odd[l];
        }
    }
    debug_assert!(kp.is_multiple_of(8) && out.len() == kp);
    let mut q = 0;
    while q + 32 <= kp {
        block::<32>(out, q, m, kp, pairs.clone());
        q += 32;
    }
    while q < kp {
        block::<8>(out, q, m, kp, pairs.clone());
        q += 8;
    }
}

/// Full-batch Adam on the softmax cross-entropy with L2 regularisation (on the weights, not
/// the bias), over the examples `rows`.
///
/// Each epoch is two matrix products for the embedding part (logits `X·W`, gradient
/// `Xᵀ·D`), where the cache-blocked kernels of `gemm` run near the CPU's peak, and loops
/// over the non-zero entries only for the lexical part (hashed n-grams, ~90% zeros): by
/// example for the logits, by feature for the gradient, so each gradient row is written
/// once. The weights are held transposed (`[feature][class]`, classes padded to a
/// multiple of 8). One fit is single-threaded; [`IntentHead::train`] runs the
/// cross-validation folds side by side.
/// Returns the weights (`[class][feature]`) and biases.
///
/// The build targets baseline x86-64, so the loops are compiled a second time with AVX2
/// and FMA for CPUs that have them: without FMA, `mul_add` is a libm call per element
/// (the fit took ten times as long).
fn fit(task: &FitTask<'_>, rows: &[usize]) -> (Vec<f32>, Vec<f32>) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn fit_avx2(task: &FitTask<'_>, rows: &[usize]) -> (Vec<f32>, Vec<f32>) {
            fit_any(task, rows)
        }
        // SAFETY: the CPU has AVX2 and FMA (checked).
        return unsafe { fit_avx2(task, rows) };
    }
    fit_any(task, rows)
}

/// What every fit of one training shares: the examples, their classes, the number of
/// classes and the settings.
struct FitTask<'a> {
    design: &'a Design,
    ys: &'a [usize],
    k: usize,
    cfg: &'a HeadConfig,
}

#[inline(always)]
fn fit_any(task: &FitTask<'_>, rows: &[usize]) -> (Vec<f32>, Vec<f32>) {
    let &FitTask { design, ys, k, cfg } = task;
    let (dim, dense) = (design.dim, design.dense);
    let kp = k.div_ceil(8) * 8;
    let m = rows.len();
    let n = m.max(1) as f32;
    // This fit's examples: the dense part gathered into one matrix, the lexical part also
    // as columns (feature → its examples) for the gradient.
    let mut xd = Vec::with_capacity(m * dense);
    let mut columns: Vec<Vec<(u32, f32)>> = vec![Vec::new(); dim - dense];
    for (r, &i) in rows.iter().enumerate() {
        xd.extend_from_slice(design.dense_row(i));
        for &(j, v) in &design.sparse[i] {
            columns[j as usize - dense].push((r as u32, v));
        }
    }
    let mut wt = vec![0f32; dim * kp];
    let (mut mw, mut vw, mut gw) = (
        vec![0f32; dim * kp],
        vec![0f32; dim * kp],
        vec![0f32; dim * kp],
    );
    let mut b = vec![0f32; kp];
    let (mut mb, mut vb, mut gb) = (vec![0f32; kp], vec![0f32; kp], vec![0f32; kp]);
    // Logits, then in place the gradient wrt them: `[example][class]`.
    let mut z = vec![0f32; m * kp];
    let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    let (lr, l2) = (cfg.learning_rate as f32, cfg.l2 as f32);
    for t in 1..=cfg.epochs {
        super::matmul::matmul((m, kp, dense), &mut z, &xd, (dense, 1), &wt, (kp, 1));
        for (r, &i) in rows.iter().enumerate() {
            let zr = &mut z[r * kp..(r + 1) * kp];
            for (zc, bc) in zr.iter_mut().zip(&b) {
                *zc += bc;
            }
            let entries = design.sparse[i].iter().map(|&(j, v)| (j as usize, v));
            add_scaled_rows(zr, &wt, kp, entries);
            // d = (softmax − onehot) / n: the gradient of the mean loss wrt the logits.
            let max = zr[..k].iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v));
            let mut sum = 0.0;
            for zc in zr[..k].iter_mut() {
                *zc = (*zc - max).exp();
                sum += *zc;
            }
            for (c, zc) in zr[..k].iter_mut().enumerate() {
                *zc = (*zc / sum - if c == ys[i] { 1.0 } else { 0.0 }) / n;
            }
            zr[k..].fill(0.0);
        }
        super::matmul::matmul((dense, kp, m), &mut gw, &xd, (1, dense), &z, (kp, 1));
        for (j, column) in columns.iter().enumerate() {
            let g = &mut gw[(dense + j) * kp..(dense + j + 1) * kp];
            g.fill(0.0);
            add_scaled_rows(g, &z, kp, column.iter().map(|&(r, v)| (r as usize, v)));
        }
        gb.fill(0.0);
        for d in z.chunks_exact(kp) {
            for (gc, dc) in gb.iter_mut().zip(d) {
                *gc += dc;
            }
        }
        let c1 = 1.0 - b1.powi(t as i32);
        let c2 = 1.0 - b2.powi(t as i32);
        let adam = |p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], l2: f32| {
            for (((p, m), v), g) in p.iter_mut().zip(m).zip(v).zip(g) {
                let g = g + l2 * *p;
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                *p -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
            }
        };
        adam(&mut wt, &mut mw, &mut vw, &gw, l2);
        adam(&mut b, &mut mb, &mut vb, &gb, 0.0);
    }
    // Back to `[class][feature]`.
    let mut w = vec![0f32; k * dim];
    for c in 0..k {
        for j in 0..dim {
            w[c * dim + j] = wt[j * kp + c];
        }
    }
    b.truncate(k);
    (w, b)
}

/// The temperature minimising the negative log-likelihood of held-out logits.
fn fit_temperature(logits: &[Vec<f32>], ys: &[usize]) -> f32 {
    let nll = |t: f32| -> f32 {
        logits
            .iter()
            .zip(ys)
            .map(|(z, &y)| -softmax(z, t)[y].max(1e-12).ln())
            .sum::<f32>()
    };
    // Golden-section search on log T in [ln 0.05, ln 10].
    let (mut a, mut b) = (0.05f32.ln(), 10f32.ln());
    let g = 0.618_034f32;
    let mut c = b - g * (b - a);
    let mut d = a + g * (b - a);
    for _ in 0..40 {
        if nll(c.exp()) < nll(d.exp()) {
            b = d;
        } else {
            a = c;
        }
        c = b - g * (b - a);
        d = a + g * (b - a);
    }
    ((a + b) / 2.0).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_rows_add_up_like_plain_loops() {
        for kp in [8, 16, 32, 40, 64] {
            let rows = 7;
            let m: Vec<f32> = (0..rows * kp).map(|i| (i % 13) as f32 - 6.0).collect();
            let pairs = [(3usize, 0.5f32), (0, -1.0), (6, 2.0), (3, 0.25), (1, 1.5)];
            for take in 0..=pairs.len() {
                let mut want: Vec<f32> = (0..kp).map(|c| c as f32).collect();
                let mut got = want.clone();
                for &(r, v) in &pairs[..take] {
                    for c in 0..kp {
                        want[c] += v * m[r * kp + c];
                    }
                }
                add_scaled_rows(&mut got, &m, kp, pairs[..take].iter().copied());
                for c in 0..kp {
                    assert!((want[c] - got[c]).abs() < 1e-4, "kp {kp} take {take}");
                }
            }
        }
    }

    #[test]
    fn learns_separable_classes_and_calibrates() {
        // Three noisy clusters in 8 dimensions.
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        let mut seed = 7u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        for i in 0..90 {
            let c = i % 3;
            let mut x: Vec<f32> = (0..8).map(|_| rnd() * 0.6).collect();
            x[c] += 1.0;
            xs.push(x);
            ys.push(c);
        }
        let texts = vec![String::new(); xs.len()];
        let cfg = HeadConfig {
            lexical_weight: 0.0,
            ..Default::default()
        };
        let head = IntentHead::train(
            &xs,
            &texts,
            &ys,
            vec!["a".into(), "b".into(), "c".into()],
            &cfg,
        )
        .unwrap();
        let correct = xs
            .iter()
            .zip(&ys)
            .filter(|&(x, &y)| {
                let p = head.predict(x, "");
                p.iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .unwrap()
                    .0
                    == y
            })
            .count();
        assert!(correct >= 80, "{correct}/90");
        let p = head.predict(&xs[0], "");
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        assert!(head.temperature > 0.05 && head.temperature < 10.0);
    }

    /// An example the model alone gets wrong is still recognised when typed again (in
    /// other case and punctuation); one written for two classes is left to the model.
    #[test]
    fn the_training_examples_themselves_are_recognised() {
        // Class 1's odd example sits among class 0's: the model alone calls it class 0.
        let mut xs = Vec::new();
        let mut texts = Vec::new();
        let mut ys = Vec::new();
        for i in 0..40 {
            let c = i % 2;
            let jitter = (i as f32 * 0.37).sin() * 0.1;
            xs.push(if c == 0 {
                vec![1.0, jitter]
            } else {
                vec![jitter, 1.0]
            });
            texts.push(format!("voorbeeld {i}"));
            ys.push(c);
        }
        xs.push(vec![1.0, 0.02]);
        texts.push("Mijn roze pasje is verlopen!".to_string());
        ys.push(1);
        xs.push(vec![0.5, 0.5]);
        texts.push("twijfel".to_string());
        ys.push(0);
        xs.push(vec![0.5, 0.5]);
        texts.push("Twijfel".to_string());
        ys.push(1);
        let cfg = HeadConfig {
            lexical_weight: 0.0,
            ..Default::default()
        };
        let head = IntentHead::train(&xs, &texts, &ys, vec!["a".into(), "b".into()], &cfg).unwrap();
        let alone = {
            let x = featurize(&[1.0, 0.02], "", 0.0);
            softmax(
                &logits(&head.weights, &head.bias, &x, head.dim),
                head.temperature,
            )
        };
        assert!(alone[0] > alone[1], "the model alone: {alone:?}");
        let p = head.predict(&[1.0, 0.02], "mijn roze  pasje is verlopen");
        assert!((p[1] - EXAMPLE_PROBABILITY).abs() < 1e-6, "{p:?}");
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        // Not an example: the model decides.
        let other = head.predict(&[1.0, 0.02], "mijn roze pasje is kwijt");
        assert!(other[0] > other[1], "{other:?}");
        // Written for both classes: the model decides.
        assert_eq!(head.predict(&[0.5, 0.5], "twijfel"), {
            let x = featurize(&[0.5, 0.5], "", 0.0);
            softmax(
                &logits(&head.weights, &head.bias, &x, head.dim),
                head.temperature,
            )
        });
    }

    #[test]
    fn a_trained_head_is_cached_by_its_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let xs = vec![
            vec![1.0, 0.0],
            vec![0.0, 1.0],
            vec![0.9, 0.1],
            vec![0.1, 0.9],
        ];
        let texts: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let ys = vec![0, 1, 0, 1];
        let labels = vec!["x".to_string(), "y".to_string()];
        let cfg = HeadConfig {
            folds: 0,
            ..Default::default()
        };
        let train = |texts: &[String]| {
            let key = cache_key("m", texts, &ys, &labels, &cfg);
            IntentHead::train_cached(Some(dir.path()), &key, || {
                IntentHead::train(&xs, texts, &ys, labels.clone(), &cfg)
            })
            .unwrap()
        };
        let a = train(&texts);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let b = train(&texts);
        assert_eq!(a.predict(&xs[0], "a"), b.predict(&xs[0], "a"));
        // Other examples: another head.
        let texts2: Vec<String> = ["a", "b", "c", "e"].iter().map(|s| s.to_string()).collect();
        train(&texts2);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
