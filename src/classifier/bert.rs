//! The BERT forward pass of multilingual-e5-small on int8 linear layers ([`super::int8`]),
//! over a ragged batch: the tokens of all messages are one `[tokens, hidden]` matrix with no
//! padding, so a batch of a 5-token and a 40-token message costs 45 token rows, not 80.
//! Only attention looks at message boundaries. Linear layers and attention heads are split
//! between the threads of a [`Team`].
//!
//! The e5 recipe around it (query prefix, mean pooling, L2 normalisation) is the same as in
//! the candle forward in [`super::encoder`], which stays as the reference (f32).

use std::ops::Range;

use super::encoder::{fast_exp, gelu_scalar};
use super::int8::{Kernel, QuantLinear, QuantRows, quantize_row_with};
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
    kernel: Kernel,
    /// Whether the row work runs its AVX2 + FMA copy (see [`avx2`]).
    avx2: bool,
    team: Team,
}

/// A raw pointer that threads of the team write through, each to its own part.
struct Out<T>(*mut T);
impl<T> Clone for Out<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Out<T> {}
// SAFETY: every use below writes disjoint ranges (output blocks or rows) per thread, and
// `Team::run` returns only when all threads are done.
unsafe impl<T> Send for Out<T> {}
unsafe impl<T> Sync for Out<T> {}

impl<T> Out<T> {
    /// Through a method, so that closures capture the whole `Out` (which is `Sync`), not
    /// the raw pointer field.
    fn get(self) -> *mut T {
        self.0
    }

    /// `len` elements from `start`.
    ///
    /// # Safety
    /// In bounds of the buffer, and no other thread uses these elements meanwhile.
    unsafe fn slice<'a>(self, start: usize, len: usize) -> &'a mut [T] {
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
    }
}

/// The pieces a job is cut into for the team (taken one at a time by whichever thread is
/// free, see [`Team`]): a dozen, so that a thread the scheduler holds up leaves little.
const PIECES: usize = 12;

/// Piece `index` of `pieces` of `0..total`.
fn part(total: usize, pieces: usize, index: usize) -> Range<usize> {
    total * index / pieces..total * (index + 1) / pieces
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
            kernel: Kernel::current(),
            avx2: Kernel::current() != Kernel::Portable && Kernel::Avx2.available(),
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
        let mut qa = QuantRows::default();
        let emb_ln = &self.emb_ln;
        self.rows_then_quantize(&mut x, h, &mut qa, |_, row| {
            layer_norm(row, &emb_ln.0, &emb_ln.1, self.eps)
        });
        let mut qkv = vec![0f32; tokens * 3 * h];
        let mut ctx = vec![0f32; tokens * h];
        let mut proj = vec![0f32; tokens * h];
        let mut inner = vec![0f32; tokens * self.ffn];
        for layer in &self.layers {
            self.linear(&layer.qkv, &qa, &mut qkv);
            self.attention(&qkv, &spans, &mut ctx);
            self.rows_then_quantize(&mut ctx, h, &mut qa, |_, _| {});
            self.linear(&layer.out, &qa, &mut proj);
            self.rows_then_quantize(&mut x, h, &mut qa, |r, row| {
                add(row, &proj[r * h..(r + 1) * h]);
                layer_norm(row, &layer.ln1.0, &layer.ln1.1, self.eps);
            });
            self.linear(&layer.ffn_in, &qa, &mut inner);
            self.rows_then_quantize(&mut inner, self.ffn, &mut qa, |_, row| {
                #[cfg(target_arch = "x86_64")]
                if self.avx2 {
                    // SAFETY: the CPU has AVX2 and FMA (checked in `new`).
                    return unsafe { avx2::gelu_row(row) };
                }
                gelu_row(row)
            });
            self.linear(&layer.ffn_out, &qa, &mut proj);
            // Also quantizes the next layer's input (unused after the last layer).
            self.rows_then_quantize(&mut x, h, &mut qa, |r, row| {
                add(row, &proj[r * h..(r + 1) * h]);
                layer_norm(row, &layer.ln2.0, &layer.ln2.1, self.eps);
            });
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
        let blocks = l.blocks();
        let chunks = blocks.min(PIECES);
        let ptr = Out(out.as_mut_ptr());
        self.team.run(chunks, &|i| {
            let range = part(blocks, chunks, i);
            if !range.is_empty() {
                // SAFETY: each thread writes only the columns of its own blocks.
                unsafe { l.forward_blocks_raw(a, ptr.get(), len, range, self.kernel) };
            }
        });
    }

    /// `f(row index, row)` on every row of `x` (`width` floats each), then the row
    /// quantized into `qa`; rows are split between the team.
    fn rows_then_quantize(
        &self,
        x: &mut [f32],
        width: usize,
        qa: &mut QuantRows,
        f: impl Fn(usize, &mut [f32]) + Sync,
    ) {
        let rows = x.len() / width;
        qa.prepare(rows, width);
        let chunks = rows.min(PIECES);
        let (xs, qs) = (Out(x.as_mut_ptr()), Out(qa.q.as_mut_ptr()));
        let (scales, zps) = (Out(qa.scale.as_mut_ptr()), Out(qa.zp.as_mut_ptr()));
        self.team.run(chunks, &|i| {
            for r in part(rows, chunks, i) {
                // SAFETY: row r of each buffer belongs to this thread only.
                unsafe {
                    let row = xs.slice(r * width, width);
                    f(r, row);
                    let (s, z) = quantize_row_with(self.kernel, row, qs.slice(r * width, width));
                    *scales.get().add(r) = s;
                    *zps.get().add(r) = z;
                }
            }
        });
    }

    /// Multi-head self-attention within each message; `(message, head)` pairs are split
    /// between the team. The query weights already carry 1/√d. Heads of 32 dimensions
    /// (this model's) take an AVX-512 path where the CPU has it.
    fn attention(&self, qkv: &[f32], spans: &[Range<usize>], ctx: &mut [f32]) {
        let (h, heads) = (self.hidden, self.heads);
        let d = h / heads;
        let pairs = spans.len() * heads;
        let chunks = pairs.min(PIECES);
        let out = Out(ctx.as_mut_ptr());
        assert_eq!(ctx.len() * 3, qkv.len());
        assert!(spans.last().is_none_or(|s| s.end * h <= ctx.len()));
        #[cfg(target_arch = "x86_64")]
        let fast = d == 32 && self.kernel == Kernel::Avx512;
        #[cfg(not(target_arch = "x86_64"))]
        let fast = false;
        self.team.run(chunks, &|i| {
            let mut scores = Vec::new();
            for pair in part(pairs, chunks, i) {
                let (span, head) = (&spans[pair / heads], pair % heads);
                scores.resize(span.len(), 0f32);
                #[cfg(target_arch = "x86_64")]
                if fast {
                    // SAFETY: AVX-512 is present (VNNI implies it); the span's rows and
                    // this head's 32 columns are inside `qkv` and `ctx` (asserted above),
                    // and this pair's output is written by this thread only.
                    unsafe { head32(qkv, h, head * 32, span.clone(), &mut scores, out) };
                    continue;
                }
                let _ = fast;
                let job = HeadJob {
                    qkv,
                    h,
                    col: head * d,
                    d,
                    span: span.clone(),
                };
                #[cfg(target_arch = "x86_64")]
                if self.avx2 {
                    // SAFETY: AVX2 and FMA are present (checked in `new`); shapes as above.
                    unsafe { avx2::head(&job, &mut scores, out) };
                    continue;
                }
                head_portable(&job, &mut scores, out);
            }
        });
    }
}

/// GELU on one row.
#[inline(always)]
fn gelu_row(row: &mut [f32]) {
    for e in row {
        *e = gelu_scalar(*e);
    }
}

/// Loops of the forward pass compiled a second time with AVX2 and FMA, for CPUs that have
/// them without AVX-512: the build targets baseline x86-64, where these vectorise only 4 wide
/// and `floor` (in `fast_exp`) is a libm call per element.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{HeadJob, Out};

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn gelu_row(row: &mut [f32]) {
        super::gelu_row(row)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn head(job: &HeadJob<'_>, scores: &mut [f32], out: Out<f32>) {
        super::head_portable(job, scores, out)
    }
}

/// One head of attention over the tokens `span` of one message: `qkv` holds each token's
/// query, key and value rows (`h` wide each), the head's columns start at `col`, `d` wide.
struct HeadJob<'a> {
    qkv: &'a [f32],
    h: usize,
    col: usize,
    d: usize,
    span: Range<usize>,
}

/// One head of attention for the queries of one message.
#[inline(always)]
fn head_portable(job: &HeadJob<'_>, scores: &mut [f32], out: Out<f32>) {
    let &HeadJob {
        qkv,
        h,
        col,
        d,
        ref span,
    } = job;
    let q = |t: usize| &qkv[t * 3 * h + col..t * 3 * h + col + d];
    let k = |u: usize| &qkv[u * 3 * h + h + col..u * 3 * h + h + col + d];
    let v = |u: usize| &qkv[u * 3 * h + 2 * h + col..u * 3 * h + 2 * h + col + d];
    for t in span.clone() {
        for (s, u) in scores.iter_mut().zip(span.clone()) {
            *s = q(t).iter().zip(k(u)).map(|(x, y)| x * y).sum();
        }
        let max = max_of(scores);
        for s in scores.iter_mut() {
            *s = fast_exp(*s - max);
        }
        let inv = 1.0 / sum_of(scores);
        // SAFETY: row t, columns of this head: written by this thread only.
        let dst = unsafe { out.slice(t * h + col, d) };
        dst.iter_mut().for_each(|o| *o = 0.0);
        for (u, &p) in span.clone().zip(scores.iter()) {
            axpy(dst, p * inv, v(u));
        }
    }
}

/// [`head_portable`] for 32-dimensional heads: a query or key is two 16-lane registers.
///
/// # Safety
/// AVX-512F must be present; rows `span` of `qkv` (`3h` wide) and of the output (`h` wide)
/// must exist, `col + 32 <= h`, and `scores` must hold `span.len()` floats.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn head32(
    qkv: &[f32],
    h: usize,
    col: usize,
    span: Range<usize>,
    scores: &mut [f32],
    out: Out<f32>,
) {
    use std::arch::x86_64::*;
    let (base, row) = (qkv.as_ptr(), 3 * h);
    for t in span.clone() {
        unsafe {
            let qp = base.add(t * row + col);
            let (q0, q1) = (_mm512_loadu_ps(qp), _mm512_loadu_ps(qp.add(16)));
            let mut max = f32::NEG_INFINITY;
            for (s, u) in scores.iter_mut().zip(span.clone()) {
                let kp = base.add(u * row + h + col);
                let p = _mm512_fmadd_ps(
                    q1,
                    _mm512_loadu_ps(kp.add(16)),
                    _mm512_mul_ps(q0, _mm512_loadu_ps(kp)),
                );
                *s = _mm512_reduce_add_ps(p);
                max = if *s > max { *s } else { max };
            }
            for s in scores.iter_mut() {
                *s = fast_exp(*s - max);
            }
            let inv = 1.0 / sum_of(scores);
            let (mut a0, mut a1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
            for (&p, u) in scores.iter().zip(span.clone()) {
                let vp = base.add(u * row + 2 * h + col);
                let p = _mm512_set1_ps(p * inv);
                a0 = _mm512_fmadd_ps(p, _mm512_loadu_ps(vp), a0);
                a1 = _mm512_fmadd_ps(p, _mm512_loadu_ps(vp.add(16)), a1);
            }
            let dst = out.get().add(t * h + col);
            _mm512_storeu_ps(dst, a0);
            _mm512_storeu_ps(dst.add(16), a1);
        }
    }
}

/// `y += a·x`.
#[inline]
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// Sum with 16 running partial sums, so that it vectorises.
#[inline]
fn sum_of(v: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let chunks = v.chunks_exact(16);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for i in 0..16 {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[inline]
fn max_of(v: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = v.chunks_exact(8);
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m });
    for c in chunks {
        for i in 0..8 {
            acc[i] = if c[i] > acc[i] { c[i] } else { acc[i] };
        }
    }
    acc.iter().fold(tail, |m, &x| if x > m { x } else { m })
}

fn add(row: &mut [f32], other: &[f32]) {
    for (v, o) in row.iter_mut().zip(other) {
        *v += o;
    }
}

fn layer_norm(row: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = row.len() as f32;
    let mean = sum_of(row) / n;
    let mut acc = [0f32; 16];
    let chunks = row.chunks_exact(16);
    let tail: f32 = chunks
        .remainder()
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum();
    for c in chunks {
        for i in 0..16 {
            acc[i] += (c[i] - mean) * (c[i] - mean);
        }
    }
    let var = (acc.iter().sum::<f32>() + tail) / n;
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
    fn the_avx512_head_matches_the_portable_one() {
        if !super::super::int8::has_vnni() {
            return;
        }
        let h = 64;
        let tokens = 23;
        let qkv: Vec<f32> = (0..tokens * 3 * h)
            .map(|i| ((i * 7919 % 1000) as f32 / 250.0) - 2.0)
            .collect();
        for span in [0..1, 0..5, 5..23] {
            for col in [0, 32] {
                let mut want = vec![0f32; tokens * h];
                let mut got = vec![0f32; tokens * h];
                let mut scores = vec![0f32; span.len()];
                let job = HeadJob {
                    qkv: &qkv,
                    h,
                    col,
                    d: 32,
                    span: span.clone(),
                };
                head_portable(&job, &mut scores, Out(want.as_mut_ptr()));
                // SAFETY: the test machine has AVX-512 (checked above); shapes as required.
                unsafe {
                    head32(
                        &qkv,
                        h,
                        col,
                        span.clone(),
                        &mut scores,
                        Out(got.as_mut_ptr()),
                    )
                };
                for (a, b) in want.iter().zip(&got) {
                    assert!((a - b).abs() < 1e-4, "{span:?}/{col}: {a} vs {b}");
                }
                assert!(want[span.start * h + col] != 0.0);
            }
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
