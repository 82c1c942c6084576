//! The intent head: multinomial logistic regression on sentence embeddings, trained at
//! start-up from `intents/`, with its confidence calibrated by temperature scaling fitted on
//! cross-validated predictions (so a reported 0.8 means right about 80% of the time).
//!
//! Training runs full-batch Adam on candle tensors: the matmuls go through candle's gemm,
//! which keeps training of ~1,000 examples well under a second.

use candle_core::{D, DType, Device, Tensor};

#[derive(Debug, thiserror::Error)]
#[error("intent head: {0}")]
pub struct HeadError(String);

impl From<candle_core::Error> for HeadError {
    fn from(e: candle_core::Error) -> Self {
        HeadError(e.to_string())
    }
}

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
            epochs: 150,
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
}

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
        // Cross-validated logits for calibration.
        let mut cv_logits: Vec<Vec<f32>> = vec![Vec::new(); xs.len()];
        if cfg.folds >= 2 && xs.len() >= cfg.folds * 2 {
            for fold in 0..cfg.folds {
                let train: Vec<usize> = (0..xs.len()).filter(|i| i % cfg.folds != fold).collect();
                let test: Vec<usize> = (0..xs.len()).filter(|i| i % cfg.folds == fold).collect();
                let (w, b) = fit(xs, ys, &train, dim, k, cfg)?;
                for &i in &test {
                    cv_logits[i] = logits(&w, &b, &xs[i], dim);
                }
            }
        }
        let all: Vec<usize> = (0..xs.len()).collect();
        let (weights, bias) = fit(xs, ys, &all, dim, k, cfg)?;
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
        Ok(IntentHead {
            labels,
            weights,
            bias,
            dim,
            temperature,
            lexical_weight: cfg.lexical_weight,
            cv_probabilities,
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
    pub fn predict(&self, embedding: &[f32], text: &str) -> Vec<f32> {
        let x = featurize(embedding, text, self.lexical_weight);
        let z = logits(&self.weights, &self.bias, &x, self.dim);
        softmax(&z, self.temperature)
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
    /// Loads the head trained on exactly these inputs from `dir`, or trains and stores it.
    pub fn train_cached(
        dir: Option<&std::path::Path>,
        embedder_id: &str,
        embeddings: &[Vec<f32>],
        texts: &[String],
        ys: &[usize],
        labels: Vec<String>,
        cfg: &HeadConfig,
    ) -> Result<IntentHead, HeadError> {
        let path = dir.map(|d| {
            d.join(format!(
                "head-{}.json",
                cache_key(embedder_id, texts, ys, &labels, cfg)
            ))
        });
        if let Some(p) = &path
            && let Some(head) = std::fs::read(p)
                .ok()
                .and_then(|b| serde_json::from_slice::<IntentHead>(&b).ok())
            && head.labels == labels
        {
            return Ok(head);
        }
        let head = IntentHead::train(embeddings, texts, ys, labels, cfg)?;
        if let Some(p) = &path {
            let write = || -> std::io::Result<()> {
                if let Some(d) = p.parent() {
                    std::fs::create_dir_all(d)?;
                }
                let tmp = p.with_extension("tmp");
                std::fs::write(
                    &tmp,
                    serde_json::to_vec(&head).map_err(std::io::Error::other)?,
                )?;
                std::fs::rename(tmp, p)
            };
            if let Err(e) = write() {
                tracing::warn!(error = %e, "cannot cache the trained intent head");
            }
        }
        Ok(head)
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

/// Full-batch Adam on the softmax cross-entropy with L2 regularisation.
fn fit(
    xs: &[Vec<f32>],
    ys: &[usize],
    rows: &[usize],
    dim: usize,
    k: usize,
    cfg: &HeadConfig,
) -> Result<(Vec<f32>, Vec<f32>), HeadError> {
    let dev = Device::Cpu;
    let n = rows.len();
    let flat: Vec<f32> = rows.iter().flat_map(|&i| xs[i].iter().copied()).collect();
    let x = Tensor::from_vec(flat, (n, dim), &dev)?;
    let mut onehot = vec![0f32; n * k];
    for (r, &i) in rows.iter().enumerate() {
        onehot[r * k + ys[i]] = 1.0;
    }
    let y = Tensor::from_vec(onehot, (n, k), &dev)?;
    let mut w = Tensor::zeros((k, dim), DType::F32, &dev)?;
    let mut b = Tensor::zeros(k, DType::F32, &dev)?;
    let (mut mw, mut vw) = (w.zeros_like()?, w.zeros_like()?);
    let (mut mb, mut vb) = (b.zeros_like()?, b.zeros_like()?);
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    let xt = x.t()?.contiguous()?;
    for t in 1..=cfg.epochs {
        let z = x.matmul(&w.t()?)?.broadcast_add(&b)?;
        let p = candle_nn::ops::softmax_last_dim(&z)?;
        let d = ((p - &y)? / n as f64)?; // [n, k]
        let gw = (d.t()?.matmul(&xt.t()?)? + (&w * cfg.l2)?)?; // [k, dim]
        let gb = d.sum(0)?;
        mw = ((&mw * b1)? + (&gw * (1.0 - b1))?)?;
        vw = ((&vw * b2)? + (gw.sqr()? * (1.0 - b2))?)?;
        mb = ((&mb * b1)? + (&gb * (1.0 - b1))?)?;
        vb = ((&vb * b2)? + (gb.sqr()? * (1.0 - b2))?)?;
        let c1 = 1.0 - b1.powi(t as i32);
        let c2 = 1.0 - b2.powi(t as i32);
        let step_w = ((&mw / c1)? / ((&vw / c2)?.sqrt()? + eps)?)?;
        let step_b = ((&mb / c1)? / ((&vb / c2)?.sqrt()? + eps)?)?;
        w = (w - (step_w * cfg.learning_rate)?)?;
        b = (b - (step_b * cfg.learning_rate)?)?;
    }
    let _ = D::Minus1;
    Ok((w.flatten_all()?.to_vec1()?, b.to_vec1()?))
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
        let a = IntentHead::train_cached(
            Some(dir.path()),
            "m",
            &xs,
            &texts,
            &ys,
            labels.clone(),
            &cfg,
        )
        .unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let b = IntentHead::train_cached(
            Some(dir.path()),
            "m",
            &xs,
            &texts,
            &ys,
            labels.clone(),
            &cfg,
        )
        .unwrap();
        assert_eq!(a.predict(&xs[0], "a"), b.predict(&xs[0], "a"));
        // Other examples: another head.
        let texts2: Vec<String> = ["a", "b", "c", "e"].iter().map(|s| s.to_string()).collect();
        IntentHead::train_cached(Some(dir.path()), "m", &xs, &texts2, &ys, labels, &cfg).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
