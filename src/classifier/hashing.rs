//! A lexical stand-in for the transformer: character n-grams of the lower-cased, accent-
//! folded words, hashed into a fixed number of dimensions. It needs no model, so unit and
//! HTTP tests run in milliseconds; the acceptance figures come from the real encoder.

use super::{ClassifierError, Embed};
use crate::text::normalize;

#[derive(Debug, Clone)]
pub struct HashingEmbedder {
    dim: usize,
}

impl Default for HashingEmbedder {
    fn default() -> Self {
        HashingEmbedder { dim: 1024 }
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf29ce484222325u64;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

impl HashingEmbedder {
    pub fn vector(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dim];
        for word in normalize(text).split(' ').filter(|w| !w.is_empty()) {
            let padded: Vec<char> = format!("<{word}>").chars().collect();
            let h = fnv(word.as_bytes());
            v[(h % self.dim as u64) as usize] += 2.0;
            for n in 3..=5 {
                for w in padded.windows(n) {
                    let s: String = w.iter().collect();
                    let h = fnv(s.as_bytes());
                    let sign = if h & (1 << 63) == 0 { 1.0 } else { -1.0 };
                    v[(h % self.dim as u64) as usize] += sign;
                }
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
        v
    }
}

impl Embed for HashingEmbedder {
    fn dim(&self) -> usize {
        self.dim
    }
    fn id(&self) -> String {
        format!("hashing-{}", self.dim)
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ClassifierError> {
        Ok(texts.iter().map(|t| self.vector(t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::encoder::cosine;

    #[test]
    fn similar_texts_are_close() {
        let h = HashingEmbedder::default();
        let a = h.vector("paspoort aanvragen");
        let b = h.vector("Paspoort aanvraag");
        let c = h.vector("grofvuil ophalen");
        assert!(cosine(&a, &b) > cosine(&a, &c));
        assert!((cosine(&a, &a) - 1.0).abs() < 1e-5);
    }
}
