//! The AVX2 kernel's own weights: on a 4-bit grid per block of 32 inputs, as the model's
//! Q4_0 weights already are.
//!
//! The AVX2 kernel multiplies with `vpmaddubsw` (u8 × s8, two products added into an i16)
//! and then widens with `vpmaddwd`: two multiplications per 32 products, and on a CPU whose
//! vector multiplier is the bottleneck (AMD Zen 1/2: one 128-bit multiply pipe) that is the
//! whole cost. Weights within ±8 keep every i16 small enough to add eight `vpmaddubsw`
//! results (one 32-input block: 8 · 2 · 255 · 8 = 32,640 < 32,767) before one `vpmaddwd`:
//! nine multiplications per 256 products instead of sixteen.
//!
//! The weights of this model are Q4_0 (`(q − 8)·d` per block of 32 inputs, `d` per block),
//! so each block is exactly `step · g` with integers `g` in −8..=8: [`Grid::find`] recovers
//! them, and the products are exact to the f32 weights (the other kernels round every row to
//! 8 bits first). Weights that are not on such a grid (another model) keep the 8-bit rows
//! and the 8-bit AVX2 kernel.
//!
//! `y[m][n] = sa[m]·(Σb step[n][b]·Σk∈b qa[m][k]·g[n][k] − zp[m]·zsum[n]) + bias[n]`, with
//! `zsum[n] = Σb step[n][b]·Σk∈b g[n][k]`; the block sums are exact integers, the sum over
//! blocks is in f32.

use super::QuantRows;

/// Outputs per strip: one 8-lane register.
pub(super) const SW: usize = 8;
/// Inputs per block (one step each).
pub(super) const KB: usize = 32;
/// Token rows per tile.
const MR: usize = 4;

pub(super) struct Grid {
    /// Per strip of 8 outputs, per group of 4 inputs: `[lane i][input t]` =
    /// `g[strip·8 + i][4q + t]` (s8, −8..=8).
    packed: Vec<u8>,
    /// Per strip, per block of 32 inputs: the 8 outputs' steps.
    step: Vec<f32>,
    /// See the module documentation.
    zsum: Vec<f32>,
}

impl Grid {
    /// The grid of `w` (`n` rows of `k`), if every block of 32 inputs of every row is
    /// `step · g` with integers `g` in −8..=8 (up to f32 rounding).
    pub(super) fn find(w: &[f32], n: usize, k: usize) -> Option<Grid> {
        if !k.is_multiple_of(KB) || !n.is_multiple_of(SW) {
            return None;
        }
        let blocks = k / KB;
        let mut g = vec![0i8; n * k];
        let mut step = vec![0f32; n * blocks];
        for r in 0..n {
            for b in 0..blocks {
                let src = &w[r * k + b * KB..][..KB];
                let dst = &mut g[r * k + b * KB..][..KB];
                step[r * blocks + b] = block_grid(src, dst)?;
            }
        }
        let mut packed = vec![0u8; n * k];
        let mut shuffled = vec![0f32; n * blocks];
        let mut zsum = vec![0f32; n];
        for strip in 0..n / SW {
            for q in 0..k / 4 {
                let base = (strip * (k / 4) + q) * SW * 4;
                for i in 0..SW {
                    for t in 0..4 {
                        packed[base + i * 4 + t] = g[(strip * SW + i) * k + 4 * q + t] as u8;
                    }
                }
            }
            for b in 0..blocks {
                for i in 0..SW {
                    shuffled[(strip * blocks + b) * SW + i] = step[(strip * SW + i) * blocks + b];
                }
            }
        }
        for (r, z) in zsum.iter_mut().enumerate() {
            *z = (0..blocks)
                .map(|b| {
                    let s: i32 = g[r * k + b * KB..][..KB].iter().map(|&v| v as i32).sum();
                    step[r * blocks + b] * s as f32
                })
                .sum();
        }
        Some(Grid {
            packed,
            step: shuffled,
            zsum,
        })
    }

    pub(super) fn bytes(&self) -> usize {
        self.packed.len() + (self.step.len() + self.zsum.len()) * 4
    }
}

/// The step and integers of one block: the largest magnitude is `j` steps for some `j` in
/// 8, 7, … 1 (Q4_0 puts it at 8); `None` when no `j` fits.
fn block_grid(src: &[f32], dst: &mut [i8]) -> Option<f32> {
    let max = src.iter().fold(0f32, |m, v| m.max(v.abs()));
    if max == 0.0 {
        dst.fill(0);
        return Some(0.0);
    }
    if !max.is_finite() {
        return None;
    }
    (1..=8).rev().find_map(|j| {
        let step = max / j as f32;
        let inv = 1.0 / step;
        for (d, &v) in dst.iter_mut().zip(src) {
            let x = v * inv;
            let r = x.round();
            if (x - r).abs() > 1e-3 || r.abs() > 8.0 {
                return None;
            }
            *d = r as i8;
        }
        Some(step)
    })
}

/// `out` for the output blocks (of 64) in `blocks`, in plain loops (the reference for the
/// AVX2 version; another CPU never builds a grid).
///
/// # Safety
/// As [`super::QuantLinear::forward_blocks_raw`].
pub(super) unsafe fn forward_portable(
    grid: &Grid,
    (n, k, bias): (usize, usize, &[f32]),
    a: &QuantRows,
    out: *mut f32,
    blocks: std::ops::Range<usize>,
) {
    let per = super::NB / SW;
    for strip in blocks.start * per..blocks.end * per {
        let w = &grid.packed[strip * SW * k..(strip + 1) * SW * k];
        let steps = &grid.step[strip * SW * (k / KB)..(strip + 1) * SW * (k / KB)];
        for m in 0..a.rows {
            let row = &a.q[m * k..(m + 1) * k];
            let mut acc = [0f32; SW];
            for ((x, w), st) in row
                .chunks_exact(KB)
                .zip(w.chunks_exact(KB * SW))
                .zip(steps.chunks_exact(SW))
            {
                let mut sum = [0i32; SW];
                for (x, w) in x.chunks_exact(4).zip(w.chunks_exact(4 * SW)) {
                    for (s, w) in sum.iter_mut().zip(w.chunks_exact(4)) {
                        *s += (0..4).map(|t| x[t] as i32 * w[t] as i8 as i32).sum::<i32>();
                    }
                }
                for ((acc, &sum), &st) in acc.iter_mut().zip(&sum).zip(st) {
                    *acc += sum as f32 * st;
                }
            }
            for (i, acc) in acc.iter().enumerate() {
                let nn = strip * SW + i;
                let y = a.scale[m] * (acc - a.zp[m] as f32 * grid.zsum[nn]) + bias[nn];
                // SAFETY: inside rows × n, checked by the caller.
                unsafe { *out.add(m * n + nn) = y };
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) mod avx2 {
    use super::{Grid, KB, MR, SW};
    use crate::classifier::int8::{NB, QuantRows};
    use std::arch::x86_64::*;

    /// The AVX2 version of [`super::forward_portable`]: tiles of up to 4 token rows × one
    /// strip of 8 outputs, a block's eight `vpmaddubsw` summed in i16 registers, then
    /// widened, converted and scaled into f32 accumulators.
    ///
    /// # Safety
    /// As [`super::forward_portable`], on a CPU with AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(in crate::classifier::int8) unsafe fn forward(
        grid: &Grid,
        (n, k, bias): (usize, usize, &[f32]),
        a: &QuantRows,
        out: *mut f32,
        blocks: std::ops::Range<usize>,
    ) {
        let per = NB / SW;
        for strip in blocks.start * per..blocks.end * per {
            // SAFETY: strip exists in the grid (blocks checked by the caller).
            let (w, steps) = unsafe {
                (
                    grid.packed.as_ptr().add(strip * SW * k),
                    grid.step.as_ptr().add(strip * SW * (k / KB)),
                )
            };
            let t = Tile {
                grid,
                a,
                k,
                n,
                n0: strip * SW,
                w,
                steps,
                bias,
                out,
            };
            let mut m = 0;
            while m < a.rows {
                let rows = (a.rows - m).min(MR);
                // SAFETY: rows m..m+rows exist in `a` and `out`.
                unsafe {
                    match rows {
                        4 => t.run::<4>(m),
                        3 => t.run::<3>(m),
                        2 => t.run::<2>(m),
                        _ => t.run::<1>(m),
                    }
                }
                m += rows;
            }
        }
    }

    /// One strip's operands.
    struct Tile<'a> {
        grid: &'a Grid,
        a: &'a QuantRows,
        k: usize,
        n: usize,
        n0: usize,
        w: *const u8,
        steps: *const f32,
        bias: &'a [f32],
        out: *mut f32,
    }

    impl Tile<'_> {
        /// Rows `m0..m0+R` × the strip's 8 outputs, the whole reduction in registers.
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn run<const R: usize>(&self, m0: usize) {
            let k = self.k;
            // SAFETY: row m0 exists in `a` (checked by the caller).
            let x = unsafe { self.a.q.as_ptr().add(m0 * k) };
            let ones = _mm256_set1_epi16(1);
            let mut acc = [_mm256_setzero_ps(); R];
            let (mut wp, mut sp) = (self.w, self.steps);
            let mut kk = 0;
            while kk < k {
                let mut sum = [_mm256_setzero_si256(); R];
                for q in 0..KB / 4 {
                    // SAFETY: inside the strip's k × 8 bytes and the rows' k bytes.
                    unsafe {
                        let w = _mm256_loadu_si256(wp.add(q * SW * 4) as *const __m256i);
                        for (r, sum) in sum.iter_mut().enumerate() {
                            let p = x.add(r * k + kk + 4 * q) as *const f32;
                            let xv = _mm256_castps_si256(_mm256_broadcast_ss(&*p));
                            *sum = _mm256_add_epi16(*sum, _mm256_maddubs_epi16(xv, w));
                        }
                    }
                }
                // SAFETY: one step per output and block.
                let st = unsafe { _mm256_loadu_ps(sp) };
                for (acc, &sum) in acc.iter_mut().zip(&sum) {
                    let wide = _mm256_cvtepi32_ps(_mm256_madd_epi16(sum, ones));
                    *acc = _mm256_fmadd_ps(wide, st, *acc);
                }
                // SAFETY: the next block of the strip (or one past the end, unused).
                unsafe {
                    wp = wp.add(KB * SW);
                    sp = sp.add(SW);
                }
                kk += KB;
            }
            // SAFETY: outputs n0..n0+8 exist in zsum and bias; rows inside `out`.
            unsafe {
                let zsum = _mm256_loadu_ps(self.grid.zsum.as_ptr().add(self.n0));
                let bias = _mm256_loadu_ps(self.bias.as_ptr().add(self.n0));
                for (r, &acc) in acc.iter().enumerate() {
                    let m = m0 + r;
                    let zp = _mm256_set1_ps(self.a.zp[m] as f32);
                    let sa = _mm256_set1_ps(self.a.scale[m]);
                    let y = _mm256_fmadd_ps(sa, _mm256_fnmadd_ps(zp, zsum, acc), bias);
                    _mm256_storeu_ps(self.out.add(m * self.n + self.n0), y);
                }
            }
        }
    }
}
