//! The BERT forward pass of multilingual-e5-small on int8 linear layers ([`super::int8`]),
//! over a ragged batch: the tokens of all messages are one `[tokens, hidden]` matrix with no
//! padding, so a batch of a 5-token and a 40-token message costs 45 token rows, not 80.
//! Only attention looks at message boundaries. Linear layers and attention heads are split
//! between the threads of a [`Team`].
//!
//! The e5 recipe around it (query prefix, mean pooling, L2 normalisation) is the same as in
//! the candle forward in [`super::encoder`], which stays as the reference and the fallback
//! for CPUs without AVX-512 VNNI.

use std::ops::Range;

use super::encoder::{fast_exp, gelu_scalar};
use super::int8::{QuantLinear, QuantRows};
use super::team::Team;

/// Weights of one transformer layer, in f32 as read from the model file.
pub struct LayerWeights {
    /// `[3·hidden, hidden]`: query, key and value stacked.
    pub qkv_w: Vec<f32>,
    pub qkv_b: Vec<f32>,
    pub out_w: Vec<f32>,
    pub out_b: Vec<f32>,
    pub ln1: (Vec<f32>, Vec<f32>),
    pub ffn_in_w: Vec<f32>,
    pub ffn_in_b: Vec<f32>,
    pub ffn_out_w: Vec<f32>,
    pub ffn_out_b: Vec<f32>,
    pub ln2: (Vec<f32>, Vec<f32>),
}

struct Layer {
    qkv: QuantLinear,
    out: QuantLinear,
    ln1: (Vec<f32>, Vec<f32>),
    ffn_in: QuantLinear,
    ffn_out: QuantLinear,
    ln2: (Vec<f32>, Vec<f32>),
}

/// Word embeddings as Q4_0 blocks (18 bytes per 32 values: an f16 scale, 16 bytes of
/// nibbles), dequantized row by row on lookup.
pub struct Q4Rows {
    pub data: Vec<u8>,
    pub rows: usize,
    pub width: usize,
}

impl Q4Rows {
    fn row(&self, id: usize, out: &mut [f32]) {
        let blocks = self.width / 32;
        let row = &self.data[id * blocks * 18..(id + 1) * blocks * 18];
        for (b, block) in row.chunks_exact(18).enumerate() {
            let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
            let dst = &mut out[b * 32..(b + 1) * 32];
            for j in 0..16 {
                dst[j] = ((block[2 + j] & 0x0f) as i32 - 8) as f32 * d;
                dst[j + 16] = ((block[2 + j] >> 4) as i32 - 8) as f32 * d;
            }
        }
    }
}

pub struct Bert {
    word: Q4Rows,
    pos: Vec<f32>,
    token_type: Vec<f32>,
    emb_ln: (Vec<f32>, Vec<f32>),
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    ffn: usize,
    eps: f32,
    max_positions: usize,
    vnni: bool,
    team: Team,
}

/// A raw pointer that threads of the team write through, each to its own part.
#[derive(Clone, Copy)]
struct Out(*mut f32);
// SAFETY: every use below writes disjoint ranges (output blocks or rows) per thread, and
// `Team::run` returns only when all threads are done.
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    /// Through a method, so that closures capture the whole `Out` (which is `Sync`), not
    /// the raw pointer field.
    fn get(self) -> *mut f32 {
        self.0
    }
}

fn part(total: usize, threads: usize, index: usize) -> Range<usize> {
    total * index / threads..total * (index + 1) / threads
}

impl Bert {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        word: Q4Rows,
        pos: Vec<f32>,
        token_type: Vec<f32>,
        emb_ln: (Vec<f32>, Vec<f32>),
        layers: Vec<LayerWeights>,
        heads: usize,
        eps: f32,
        threads: usize,
    ) -> Bert {
        let hidden = word.width;
        let ffn = layers
            .first()
            .map(|l| l.ffn_in_b.len())
            .unwrap_or(4 * hidden);
        // Attention scores are q·k/√d: the 1/√d goes into the query weights once, here.
        let q_scale = 1.0 / ((hidden / heads) as f32).sqrt();
        let layers = layers
            .into_iter()
            .map(|mut l| {
                for v in &mut l.qkv_w[..hidden * hidden] {
                    *v *= q_scale;
                }
                for v in &mut l.qkv_b[..hidden] {
                    *v *= q_scale;
                }
                Layer {
                    qkv: QuantLinear::new(&l.qkv_w, &l.qkv_b, 3 * hidden, hidden),
                    out: QuantLinear::new(&l.out_w, &l.out_b, hidden, hidden),
                    ln1: l.ln1,
                    ffn_in: QuantLinear::new(&l.ffn_in_w, &l.ffn_in_b, ffn, hidden),
                    ffn_out: QuantLinear::new(&l.ffn_out_w, &l.ffn_out_b, hidden, ffn),
                    ln2: l.ln2,
                }
            })
            .collect();
        let max_positions = pos.len() / hidden;
        Bert {
            word,
            pos,
            token_type,
            emb_ln,
            layers,
            hidden,
            heads,
            ffn,
            eps,
            max_positions,
            vnni: super::int8::has_vnni(),
            team: Team::new(threads),
        }
    }

    pub fn weight_bytes(&self) -> usize {
        self.word.data.len()
            + self
                .layers
                .iter()
                .map(|l| l.qkv.bytes() + l.out.bytes() + l.ffn_in.bytes() + l.ffn_out.bytes())
                .sum::<usize>()
    }

    /// Mean-pooled, L2-normalised embeddings of token sequences (ids already truncated).
    pub fn embed(&self, seqs: &[Vec<u32>]) -> Vec<Vec<f32>> {
        let h = self.hidden;
        let spans: Vec<Range<usize>> = seqs
            .iter()
            .scan(0, |start, s| {
                let r = *start..*start + s.len().min(self.max_positions);
                *start = r.end;
                Some(r)
            })
            .collect();
        let tokens = spans.last().map(|r| r.end).unwrap_or(0);
        if tokens == 0 {
            return seqs.iter().map(|_| vec![0.0; h]).collect();
        }

        // Embeddings: word + position + token type 0, then layer norm.
        let mut x = vec![0f32; tokens * h];
        for (seq, span) in seqs.iter().zip(&spans) {
            for (p, t) in span.clone().enumerate() {
                let row = &mut x[t * h..(t + 1) * h];
                let id = (seq[p] as usize).min(self.word.rows - 1);
                self.word.row(id, row);
                let pos = &self.pos[p * h..(p + 1) * h];
                for ((v, a), b) in row.iter_mut().zip(pos).zip(&self.token_type[..h]) {
                    *v += a + b;
                }
            }
        }
        self.layer_norm_rows(&mut x, None, &self.emb_ln);

        let mut qa = QuantRows::default();
        let mut qkv = vec![0f32; tokens * 3 * h];
        let mut ctx = vec![0f32; tokens * h];
        let mut proj = vec![0f32; tokens * h];
        let mut inner = vec![0f32; tokens * self.ffn];
        for layer in &self.layers {
            qa.quantize(&x, h);
            self.linear(&layer.qkv, &qa, &mut qkv);
            self.attention(&qkv, &spans, &mut ctx);
            qa.quantize(&ctx, h);
            self.linear(&layer.out, &qa, &mut proj);
            self.layer_norm_rows(&mut x, Some(&proj), &layer.ln1);
            qa.quantize(&x, h);
            self.linear(&layer.ffn_in, &qa, &mut inner);
            self.gelu(&mut inner);
            qa.quantize(&inner, self.ffn);
            self.linear(&layer.ffn_out, &qa, &mut proj);
            self.layer_norm_rows(&mut x, Some(&proj), &layer.ln2);
        }

        spans
            .iter()
            .map(|span| {
                let mut mean = vec![0f32; h];
                for t in span.clone() {
                    for (m, v) in mean.iter_mut().zip(&x[t * h..(t + 1) * h]) {
                        *m += v;
                    }
                }
                let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt();
                if norm > 0.0 {
                    for m in &mut mean {
                        *m /= norm;
                    }
                }
                mean
            })
            .collect()
    }

    /// `out = a·Wᵀ + b`, output blocks split between the team.
    fn linear(&self, l: &QuantLinear, a: &QuantRows, out: &mut [f32]) {
        let len = a.rows * l.n;
        let out = &mut out[..len];
        let threads = self.team.threads();
        let blocks = l.blocks();
        let ptr = Out(out.as_mut_ptr());
        self.team.run(&|i| {
            let range = part(blocks, threads, i);
            if !range.is_empty() {
                // SAFETY: each thread writes only the columns of its own blocks.
                unsafe { l.forward_blocks_raw(a, ptr.get(), len, range, self.vnni) };
            }
        });
    }

    /// `x = LayerNorm(x + residual)` row by row.
    fn layer_norm_rows(&self, x: &mut [f32], add: Option<&[f32]>, ln: &(Vec<f32>, Vec<f32>)) {
        let h = self.hidden;
        for (r, row) in x.chunks_exact_mut(h).enumerate() {
            if let Some(add) = add {
                for (v, a) in row.iter_mut().zip(&add[r * h..(r + 1) * h]) {
                    *v += a;
                }
            }
            layer_norm(row, &ln.0, &ln.1, self.eps);
        }
    }

    fn gelu(&self, v: &mut [f32]) {
        let threads = self.team.threads();
        let rows = v.len() / self.ffn;
        let (ptr, width) = (Out(v.as_mut_ptr()), self.ffn);
        self.team.run(&|i| {
            let r = part(rows, threads, i);
            // SAFETY: disjoint rows per thread.
            let mine = unsafe {
                std::slice::from_raw_parts_mut(ptr.get().add(r.start * width), r.len() * width)
            };
            for e in mine {
                *e = gelu_scalar(*e);
            }
        });
    }

    /// Multi-head self-attention within each message; `(message, head)` pairs are split
    /// between the team. The query weights already carry 1/√d.
    fn attention(&self, qkv: &[f32], spans: &[Range<usize>], ctx: &mut [f32]) {
        let (h, heads) = (self.hidden, self.heads);
        let d = h / heads;
        let pairs = spans.len() * heads;
        let threads = self.team.threads();
        let out = Out(ctx.as_mut_ptr());
        self.team.run(&|i| {
            let mut scores = Vec::new();
            let mut acc = vec![0f32; d];
            for pair in part(pairs, threads, i) {
                let (span, head) = (&spans[pair / heads], pair % heads);
                let col = head * d;
                for t in span.clone() {
                    let q = &qkv[t * 3 * h + col..t * 3 * h + col + d];
                    scores.clear();
                    let mut max = f32::NEG_INFINITY;
                    for u in span.clone() {
                        let k = &qkv[u * 3 * h + h + col..u * 3 * h + h + col + d];
                        let s = dot(q, k);
                        max = max.max(s);
                        scores.push(s);
                    }
                    let mut sum = 0.0;
                    for s in &mut scores {
                        *s = fast_exp(*s - max);
                        sum += *s;
                    }
                    acc.iter_mut().for_each(|a| *a = 0.0);
                    for (u, p) in span.clone().zip(&scores) {
                        let v = &qkv[u * 3 * h + 2 * h + col..u * 3 * h + 2 * h + col + d];
                        for (a, v) in acc.iter_mut().zip(v) {
                            *a += p * v;
                        }
                    }
                    let inv = 1.0 / sum;
                    // SAFETY: row t, columns of this head: written by this thread only.
                    let dst =
                        unsafe { std::slice::from_raw_parts_mut(out.get().add(t * h + col), d) };
                    for (o, a) in dst.iter_mut().zip(&acc) {
                        *o = a * inv;
                    }
                }
            }
        });
    }
}

#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = a
        .chunks_exact(8)
        .remainder()
        .iter()
        .zip(b.chunks_exact(8).remainder())
        .map(|(x, y)| x * y)
        .sum();
    acc.iter().sum::<f32>() + tail
}

fn layer_norm(row: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
        *v = (*v - mean) * inv * g + b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Tensor};

    #[test]
    fn q4_rows_match_candles_dequantisation() {
        let dev = Device::Cpu;
        let values: Vec<f32> = (0..4 * 64)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 17.0)
            .collect();
        let t = Tensor::from_vec(values, (4, 64), &dev).unwrap();
        let q = QTensor::quantize(&t, GgmlDType::Q4_0).unwrap();
        let want = q.dequantize(&dev).unwrap().to_vec2::<f32>().unwrap();
        let rows = Q4Rows {
            data: q.data().unwrap().into_owned(),
            rows: 4,
            width: 64,
        };
        let mut got = vec![0f32; 64];
        for (r, want) in want.iter().enumerate() {
            rows.row(r, &mut got);
            assert_eq!(&got, want, "row {r}");
        }
    }

    #[test]
    fn parts_cover_the_range() {
        for total in [0, 1, 5, 6, 18, 24] {
            for threads in 1..4 {
                let all: Vec<usize> = (0..threads).flat_map(|i| part(total, threads, i)).collect();
                assert_eq!(all, (0..total).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn layer_norm_centres_and_scales() {
        let mut row = vec![1.0, 2.0, 3.0, 4.0];
        layer_norm(&mut row, &[1.0; 4], &[0.0; 4], 1e-12);
        assert!(row.iter().sum::<f32>().abs() < 1e-5);
        let var = row.iter().map(|v| v * v).sum::<f32>() / 4.0;
        assert!((var - 1.0).abs() < 1e-4);
    }
}
