//! Int8 linear layers for the encoder: weights quantized per output row (symmetric, s8),
//! activations quantized per token row (asymmetric, u8), products accumulated exactly in
//! i32 and scaled back to f32 with the bias in one pass.
//!
//! `y[m][n] = sa[m]·sw[n]·(Σk qa[m][k]·qw[n][k] − zp[m]·Σk qw[n][k]) + b[n]`
//!
//! On CPUs with AVX-512 VNNI the products run in a hand-written kernel (`vpdpbusd`: 64
//! multiply-adds of u8 × s8 per instruction) over weights packed for it once at load: a tile
//! of up to 6 token rows × 64 outputs lives in 24 registers for the whole reduction. Without
//! VNNI a portable loop computes the same integers (and is what the kernel is tested against).

/// Outputs per packed block: four 16-lane registers.
pub const NB: usize = 64;
/// Token rows per kernel tile.
const MR: usize = 6;

/// A linear layer `y = x·Wᵀ + b` with int8 weights packed for the kernel.
pub struct QuantLinear {
    pub n: usize,
    pub k: usize,
    /// Blocks of 64 outputs; within a block, for each group of 4 inputs, 64 × 4 bytes:
    /// `[register j][lane i][input t]` = `qw[block·64 + 16j + i][4q + t]`.
    packed: Vec<u8>,
    /// Σk qw[n][k], for the activations' zero point.
    colsum: Vec<i32>,
    scale: Vec<f32>,
    bias: Vec<f32>,
}

/// Activations quantized per row: `x ≈ scale·(q − zp)`.
#[derive(Default)]
pub struct QuantRows {
    pub rows: usize,
    pub k: usize,
    pub q: Vec<u8>,
    pub scale: Vec<f32>,
    pub zp: Vec<i32>,
}

impl QuantRows {
    /// Quantizes `rows` rows of `k` floats, reusing this buffer (the forward pass quantizes
    /// row by row with [`quantize_row`], split between threads).
    #[cfg(test)]
    pub fn quantize(&mut self, x: &[f32], k: usize) {
        assert!(k > 0 && x.len().is_multiple_of(k));
        self.prepare(x.len() / k, k);
        for (r, (src, dst)) in x
            .chunks_exact(k)
            .zip(self.q.chunks_exact_mut(k))
            .enumerate()
        {
            (self.scale[r], self.zp[r]) = quantize_row(src, dst);
        }
    }

    /// Sizes the buffer for `rows × k`; the rows are then filled with [`quantize_row`].
    pub fn prepare(&mut self, rows: usize, k: usize) {
        self.rows = rows;
        self.k = k;
        self.q.resize(rows * k, 0);
        self.scale.resize(rows, 0.0);
        self.zp.resize(rows, 0);
    }
}

/// Quantizes one row into `dst`; returns its scale and zero point. Written so that the
/// compiler vectorises it (min/max without NaN handling, 16 partial results).
#[inline]
pub fn quantize_row(src: &[f32], dst: &mut [u8]) -> (f32, i32) {
    #[cfg(target_arch = "x86_64")]
    if has_vnni() && src.len().is_multiple_of(16) && dst.len() >= src.len() {
        // SAFETY: AVX-512 is present (checked), lengths checked.
        return unsafe { vnni::quantize_row(src, dst) };
    }
    quantize_row_portable(src, dst)
}

fn quantize_row_portable(src: &[f32], dst: &mut [u8]) -> (f32, i32) {
    let (mut lo, mut hi) = ([0f32; 16], [0f32; 16]);
    let chunks = src.chunks_exact(16);
    for &v in chunks.remainder() {
        lo[0] = if v < lo[0] { v } else { lo[0] };
        hi[0] = if v > hi[0] { v } else { hi[0] };
    }
    for c in chunks {
        for i in 0..16 {
            lo[i] = if c[i] < lo[i] { c[i] } else { lo[i] };
            hi[i] = if c[i] > hi[i] { c[i] } else { hi[i] };
        }
    }
    let lo = lo.iter().fold(0f32, |m, &v| if v < m { v } else { m });
    let hi = hi.iter().fold(0f32, |m, &v| if v > m { v } else { m });
    let scale = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
    let inv = 1.0 / scale;
    let zp = (-lo * inv).round_ties_even().clamp(0.0, 255.0);
    for (d, &v) in dst.iter_mut().zip(src) {
        let q = (v * inv + zp).round_ties_even();
        // Written so that NaN becomes 0: the conversion below needs a value in 0..=255.
        let q = if q >= 0.0 { q } else { 0.0 };
        let q = if q <= 255.0 { q } else { 255.0 };
        // SAFETY: q is finite and within 0..=255.
        *d = unsafe { q.to_int_unchecked::<i32>() } as u8;
    }
    (scale, zp as i32)
}

/// Whether the VNNI kernel can run on this CPU.
pub fn has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl QuantLinear {
    /// Quantizes `w` (`n` rows of `k` floats, row-major like PyTorch's `Linear.weight`).
    pub fn new(w: &[f32], bias: &[f32], n: usize, k: usize) -> QuantLinear {
        assert_eq!(w.len(), n * k, "weight shape");
        assert_eq!(bias.len(), n, "bias shape");
        assert!(
            n.is_multiple_of(NB) && k.is_multiple_of(4),
            "n must be a multiple of 64 and k of 4"
        );
        let mut qw = vec![0i8; n * k];
        let mut scale = vec![0f32; n];
        let mut colsum = vec![0i32; n];
        for r in 0..n {
            let row = &w[r * k..(r + 1) * k];
            let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let s = if max > 0.0 { max / 127.0 } else { 1.0 };
            let inv = 1.0 / s;
            let mut sum = 0i32;
            for (c, &v) in row.iter().enumerate() {
                let q = (v * inv).round().clamp(-127.0, 127.0) as i8;
                qw[r * k + c] = q;
                sum += q as i32;
            }
            scale[r] = s;
            colsum[r] = sum;
        }
        let mut packed = vec![0u8; n * k];
        let quads = k / 4;
        for b in 0..n / NB {
            for q in 0..quads {
                let base = (b * quads + q) * NB * 4;
                for j in 0..4 {
                    for i in 0..16 {
                        let row = b * NB + 16 * j + i;
                        for t in 0..4 {
                            packed[base + j * 64 + i * 4 + t] = qw[row * k + 4 * q + t] as u8;
                        }
                    }
                }
            }
        }
        QuantLinear {
            n,
            k,
            packed,
            colsum,
            scale,
            bias: bias.to_vec(),
        }
    }

    pub fn blocks(&self) -> usize {
        self.n / NB
    }

    pub fn bytes(&self) -> usize {
        self.packed.len() + (self.colsum.len() + self.scale.len() + self.bias.len()) * 4
    }

    /// `out` (`a.rows × n`, row-major) for every output block.
    #[cfg(test)]
    pub fn forward(&self, a: &QuantRows, out: &mut [f32]) {
        self.forward_blocks(a, out, 0..self.blocks(), has_vnni());
    }

    /// Only the output blocks in `blocks` (columns `64·blocks`). `out` is the whole
    /// `a.rows × n` buffer.
    pub fn forward_blocks(
        &self,
        a: &QuantRows,
        out: &mut [f32],
        blocks: std::ops::Range<usize>,
        vnni: bool,
    ) {
        // SAFETY: `out` is an exclusive buffer of `out.len()` floats.
        unsafe { self.forward_blocks_raw(a, out.as_mut_ptr(), out.len(), blocks, vnni) }
    }

    /// [`Self::forward_blocks`] through a pointer, so that threads can each fill their own
    /// blocks of one output.
    ///
    /// # Safety
    /// `out` must be valid for writes of `len` floats, and no other thread may access the
    /// columns of `blocks` meanwhile.
    pub unsafe fn forward_blocks_raw(
        &self,
        a: &QuantRows,
        out: *mut f32,
        len: usize,
        blocks: std::ops::Range<usize>,
        vnni: bool,
    ) {
        assert_eq!(a.k, self.k, "input width");
        assert!(
            len >= a.rows * self.n && blocks.end <= self.blocks(),
            "output shape"
        );
        // SAFETY: the shapes were checked above; the kernel reads `a.rows × k` bytes of
        // `a.q` and one packed block per tile, and writes inside rows × n of `out`.
        #[cfg(target_arch = "x86_64")]
        if vnni && has_vnni() {
            unsafe { vnni::forward(self, a, out, blocks) };
            return;
        }
        let _ = vnni;
        unsafe { self.forward_portable(a, out, blocks) };
    }

    /// The same integers as the kernel, in plain loops.
    unsafe fn forward_portable(
        &self,
        a: &QuantRows,
        out: *mut f32,
        blocks: std::ops::Range<usize>,
    ) {
        let (k, quads) = (self.k, self.k / 4);
        for b in blocks {
            for m in 0..a.rows {
                let row = &a.q[m * k..(m + 1) * k];
                for j in 0..4 {
                    for i in 0..16 {
                        let nn = b * NB + 16 * j + i;
                        let mut acc = 0i32;
                        for q in 0..quads {
                            let base = (b * quads + q) * NB * 4 + j * 64 + i * 4;
                            for t in 0..4 {
                                acc += row[4 * q + t] as i32 * self.packed[base + t] as i8 as i32;
                            }
                        }
                        let corr = acc - a.zp[m] * self.colsum[nn];
                        let y = corr as f32 * (a.scale[m] * self.scale[nn]) + self.bias[nn];
                        // SAFETY: inside rows × n, checked by the caller.
                        unsafe { *out.add(m * self.n + nn) = y };
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::{MR, NB, QuantLinear, QuantRows};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn forward(
        l: &QuantLinear,
        a: &QuantRows,
        out: *mut f32,
        blocks: std::ops::Range<usize>,
    ) {
        let quads = l.k / 4;
        for b in blocks {
            let w = unsafe { l.packed.as_ptr().add(b * quads * NB * 4) };
            let mut m = 0;
            while m < a.rows {
                let rows = (a.rows - m).min(MR);
                // SAFETY: rows m..m+rows exist in `a` and `out`; block b exists in `l`.
                unsafe {
                    match rows {
                        6 => tile::<6>(l, a, m, b, w, out),
                        5 => tile::<5>(l, a, m, b, w, out),
                        4 => tile::<4>(l, a, m, b, w, out),
                        3 => tile::<3>(l, a, m, b, w, out),
                        2 => tile::<2>(l, a, m, b, w, out),
                        _ => tile::<1>(l, a, m, b, w, out),
                    }
                }
                m += rows;
            }
        }
    }

    /// [`super::quantize_row`] with AVX-512: min/max 16 lanes at a time, conversion with
    /// round-to-nearest-even and an unsigned saturating pack to bytes.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn quantize_row(src: &[f32], dst: &mut [u8]) -> (f32, i32) {
        let n = src.len();
        let (mut lo, mut hi) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        let mut i = 0;
        while i < n {
            let v = unsafe { _mm512_loadu_ps(src.as_ptr().add(i)) };
            lo = _mm512_min_ps(lo, v);
            hi = _mm512_max_ps(hi, v);
            i += 16;
        }
        let (lo, hi) = (_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi));
        let scale = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
        let inv = 1.0 / scale;
        let zp = (-lo * inv).round_ties_even().clamp(0.0, 255.0);
        let (vinv, vzp) = (_mm512_set1_ps(inv), _mm512_set1_ps(zp));
        let zero = _mm512_setzero_si512();
        let mut i = 0;
        while i < n {
            unsafe {
                let v = _mm512_fmadd_ps(_mm512_loadu_ps(src.as_ptr().add(i)), vinv, vzp);
                // cvtps rounds to nearest even (the default rounding mode).
                let q = _mm512_max_epi32(_mm512_cvtps_epi32(v), zero);
                let bytes = _mm512_cvtusepi32_epi8(q);
                _mm_storeu_si128(dst.as_mut_ptr().add(i) as *mut __m128i, bytes);
            }
            i += 16;
        }
        (scale, zp as i32)
    }

    /// Rows `m0..m0+R` × outputs of block `b`: the whole reduction in registers.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    unsafe fn tile<const R: usize>(
        l: &QuantLinear,
        a: &QuantRows,
        m0: usize,
        b: usize,
        w: *const u8,
        out: *mut f32,
    ) {
        let k = l.k;
        let mut acc = [[_mm512_setzero_si512(); 4]; R];
        let arow = unsafe { a.q.as_ptr().add(m0 * k) };
        let mut wp = w;
        let mut kk = 0;
        while kk < k {
            let (w0, w1, w2, w3) = unsafe {
                (
                    _mm512_loadu_si512(wp as *const _),
                    _mm512_loadu_si512(wp.add(64) as *const _),
                    _mm512_loadu_si512(wp.add(128) as *const _),
                    _mm512_loadu_si512(wp.add(192) as *const _),
                )
            };
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = unsafe { (arow.add(r * k + kk) as *const i32).read_unaligned() };
                let x = _mm512_set1_epi32(x);
                acc[0] = _mm512_dpbusd_epi32(acc[0], x, w0);
                acc[1] = _mm512_dpbusd_epi32(acc[1], x, w1);
                acc[2] = _mm512_dpbusd_epi32(acc[2], x, w2);
                acc[3] = _mm512_dpbusd_epi32(acc[3], x, w3);
            }
            wp = unsafe { wp.add(256) };
            kk += 4;
        }
        for (r, acc) in acc.iter().enumerate() {
            let m = m0 + r;
            let zp = _mm512_set1_epi32(a.zp[m]);
            let sa = _mm512_set1_ps(a.scale[m]);
            for (j, &v) in acc.iter().enumerate() {
                let n = b * NB + 16 * j;
                unsafe {
                    let cs = _mm512_loadu_si512(l.colsum.as_ptr().add(n) as *const _);
                    let corr = _mm512_sub_epi32(v, _mm512_mullo_epi32(zp, cs));
                    let s = _mm512_mul_ps(sa, _mm512_loadu_ps(l.scale.as_ptr().add(n)));
                    let y = _mm512_fmadd_ps(
                        _mm512_cvtepi32_ps(corr),
                        s,
                        _mm512_loadu_ps(l.bias.as_ptr().add(n)),
                    );
                    _mm512_storeu_ps(out.add(m * l.n + n), y);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    }

    fn reference(x: &[f32], w: &[f32], b: &[f32], rows: usize, n: usize, k: usize) -> Vec<f32> {
        let mut y = vec![0f32; rows * n];
        for m in 0..rows {
            for o in 0..n {
                let mut s = b[o] as f64;
                for c in 0..k {
                    s += x[m * k + c] as f64 * w[o * k + c] as f64;
                }
                y[m * n + o] = s as f32;
            }
        }
        y
    }

    #[test]
    fn close_to_f32_for_every_tile_height() {
        let (n, k) = (128, 96);
        let mut seed = 7;
        let w: Vec<f32> = (0..n * k).map(|_| lcg(&mut seed)).collect();
        let b: Vec<f32> = (0..n).map(|_| lcg(&mut seed)).collect();
        let lin = QuantLinear::new(&w, &b, n, k);
        for rows in [1, 2, 5, 6, 7, 13] {
            // Skewed activations (mostly positive), as after GELU.
            let x: Vec<f32> = (0..rows * k).map(|_| lcg(&mut seed) * 3.0 + 1.0).collect();
            let want = reference(&x, &w, &b, rows, n, k);
            let mut a = QuantRows::default();
            a.quantize(&x, k);
            let mut portable = vec![0f32; rows * n];
            lin.forward_blocks(&a, &mut portable, 0..lin.blocks(), false);
            let err = want
                .iter()
                .zip(&portable)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            let mag = want.iter().map(|v| v.abs()).fold(0f32, f32::max);
            assert!(err < 0.02 * mag, "rows {rows}: error {err} of {mag}");
            if has_vnni() {
                let mut fast = vec![0f32; rows * n];
                lin.forward_blocks(&a, &mut fast, 0..lin.blocks(), true);
                for (p, f) in portable.iter().zip(&fast) {
                    assert!(
                        (p - f).abs() <= 1e-4 * p.abs().max(1.0),
                        "kernel {f} vs {p}"
                    );
                }
            }
        }
    }

    #[test]
    fn blocks_split_between_callers_cover_the_output() {
        let (n, k) = (192, 8);
        let w: Vec<f32> = (0..n * k).map(|i| ((i % 13) as f32 - 6.0) / 6.0).collect();
        let b = vec![0.5; n];
        let lin = QuantLinear::new(&w, &b, n, k);
        let x: Vec<f32> = (0..3 * k).map(|i| i as f32 / 10.0).collect();
        let mut a = QuantRows::default();
        a.quantize(&x, k);
        let mut whole = vec![0f32; 3 * n];
        lin.forward(&a, &mut whole);
        let mut parts = vec![f32::NAN; 3 * n];
        lin.forward_blocks(&a, &mut parts, 0..1, has_vnni());
        lin.forward_blocks(&a, &mut parts, 1..3, has_vnni());
        assert_eq!(whole, parts);
    }

    #[test]
    fn the_fast_row_quantisation_matches_the_portable_one() {
        let mut seed = 3;
        for k in [16, 384, 1536] {
            let x: Vec<f32> = (0..k).map(|_| lcg(&mut seed) * 8.0 + 0.7).collect();
            let (mut a, mut b) = (vec![0u8; k], vec![0u8; k]);
            let pa = quantize_row(&x, &mut a);
            let pb = quantize_row_portable(&x, &mut b);
            assert_eq!(pa, pb);
            // Rounding of exact halves may differ in the last bit of a product.
            let diff = a.iter().zip(&b).filter(|(x, y)| x != y).count();
            assert!(diff <= k / 100, "{diff} of {k} differ");
            assert!(a.iter().zip(&b).all(|(x, y)| x.abs_diff(*y) <= 1));
        }
    }

    #[test]
    fn a_constant_row_quantizes_without_dividing_by_zero() {
        let mut a = QuantRows::default();
        a.quantize(&[0.0; 8], 8);
        assert_eq!(a.q, vec![0; 8]);
        a.quantize(&[2.0; 4], 4);
        let back: Vec<f32> =
            a.q.iter()
                .map(|&q| (q as i32 - a.zp[0]) as f32 * a.scale[0])
                .collect();
        assert!(back.iter().all(|v| (v - 2.0).abs() < 0.01), "{back:?}");
    }
}
