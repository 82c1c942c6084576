//! Int8 linear layers for the encoder: weights quantized per output row (symmetric, s8),
//! activations quantized per token row (asymmetric, u8), products accumulated exactly in
//! i32 and scaled back to f32 with the bias in one pass.
//!
//! `y[m][n] = sa[m]·sw[n]·(Σk qa[m][k]·qw[n][k] − zp[m]·Σk qw[n][k]) + b[n]`
//!
//! The products run in one of four kernels ([`Kernel`], chosen at run time, the best the CPU
//! has unless `LOKET_KERNEL` says otherwise), all over the same packed weights and all giving
//! the same integers:
//! - `avx512`: AVX-512 VNNI (`vpdpbusd`, 64 multiply-adds of u8 × s8 per instruction); a tile
//!   of up to 6 token rows × 64 outputs lives in 24 registers for the whole reduction;
//! - `avxvnni`: the 256-bit VEX form of the same instruction (Alder Lake, Zen 5 and newer);
//! - `avx2`: `vpmaddubsw` + `vpmaddwd`. `vpmaddubsw` adds two u8 × s8 products in a
//!   saturating i16, which 255·127·2 would overflow; so the activations enter as
//!   `s = q − 128` (a byte XOR), multiplied as `|s| · sign(w, s)`: at most 128·127·2 =
//!   32,512, never saturating. The 128·Σw this takes away is added back with the zero point;
//! - `portable`: plain loops (what the others are tested against).
//!
//! Except that the AVX2 kernel, where the weights are on a 4-bit grid per 32 inputs (this
//! model's Q4_0 weights are), multiplies those instead of 8-bit rows: exact weights and
//! fewer multiplications (see [`grid`]); its integers then differ from the other kernels'.

mod grid;

/// Outputs per packed block: four 16-lane registers.
pub const NB: usize = 64;
/// Token rows per kernel tile.
const MR: usize = 6;

/// The kernel that runs the int8 products (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    Avx512,
    AvxVnni,
    Avx2,
    Portable,
}

/// The environment variable that forces a kernel, for measuring.
pub const KERNEL_ENV: &str = "LOKET_KERNEL";

impl Kernel {
    /// Fastest first.
    pub const ALL: [Kernel; 4] = [
        Kernel::Avx512,
        Kernel::AvxVnni,
        Kernel::Avx2,
        Kernel::Portable,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kernel::Avx512 => "avx512",
            Kernel::AvxVnni => "avxvnni",
            Kernel::Avx2 => "avx2",
            Kernel::Portable => "portable",
        }
    }

    /// The CPU features this kernel needs (as `/proc/cpuinfo` spells them, roughly).
    pub fn needs(self) -> &'static [&'static str] {
        match self {
            Kernel::Avx512 => &["avx512f", "avx512bw", "avx512vnni"],
            Kernel::AvxVnni => &["avx2", "fma", "avxvnni"],
            Kernel::Avx2 => &["avx2", "fma"],
            Kernel::Portable => &[],
        }
    }

    /// The features of [`Self::needs`] this CPU lacks.
    pub fn missing(self) -> Vec<&'static str> {
        self.needs()
            .iter()
            .copied()
            .filter(|f| !cpu_has(f))
            .collect()
    }

    pub fn available(self) -> bool {
        self.missing().is_empty()
    }

    /// The fastest kernel this CPU can run.
    pub fn best() -> Kernel {
        Kernel::ALL
            .into_iter()
            .find(|k| k.available())
            .unwrap_or(Kernel::Portable)
    }

    /// The kernel named by `LOKET_KERNEL`, or the best one; an error for an unknown name or
    /// a kernel this CPU cannot run. Read once.
    pub fn selected() -> Result<Kernel, String> {
        static SELECTED: std::sync::OnceLock<Result<Kernel, String>> = std::sync::OnceLock::new();
        SELECTED
            .get_or_init(|| Kernel::from_setting(std::env::var(KERNEL_ENV).ok().as_deref()))
            .clone()
    }

    /// [`Self::selected`], where start-up has already refused a bad setting (tests may
    /// force another kernel on their own thread).
    pub fn current() -> Kernel {
        #[cfg(test)]
        if let Some(k) = tests::FORCED.with(std::cell::Cell::get) {
            return k;
        }
        Kernel::selected().unwrap_or_else(|e| panic!("{e}"))
    }

    fn from_setting(value: Option<&str>) -> Result<Kernel, String> {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(Kernel::best());
        };
        let kernel = Kernel::ALL
            .into_iter()
            .find(|k| k.name() == value)
            .ok_or_else(|| {
                format!(
                    "{KERNEL_ENV}={value}: unknown kernel; use avx512, avxvnni, avx2 or portable"
                )
            })?;
        let missing = kernel.missing();
        if !missing.is_empty() {
            return Err(format!(
                "{KERNEL_ENV}={value}: this CPU lacks {}",
                missing.join(", ")
            ));
        }
        Ok(kernel)
    }
}

/// The start-up line about the CPU: the kernel chosen (and why, when forced), and on a CPU
/// without AVX2 or FMA which of them it lacks; `true` with that warning. An error when
/// `LOKET_KERNEL` names a kernel this CPU cannot run.
pub fn cpu_report() -> Result<(String, bool), String> {
    let kernel = Kernel::selected()?;
    let forced = std::env::var(KERNEL_ENV).is_ok_and(|v| !v.trim().is_empty());
    let how = if forced {
        KERNEL_ENV
    } else {
        "best for this CPU"
    };
    let missing = Kernel::Avx2.missing();
    if missing.is_empty() {
        return Ok((format!("int8 kernel: {} ({how})", kernel.name()), false));
    }
    Ok((
        format!(
            "this CPU lacks {}: the encoder runs the slow portable int8 path (tens of milliseconds a message instead of a few)",
            missing.join(" and ")
        ),
        true,
    ))
}

/// Whether this CPU has `feature` (one of the names in [`Kernel::needs`]).
pub fn cpu_has(feature: &str) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        match feature {
            "avx2" => std::is_x86_feature_detected!("avx2"),
            "fma" => std::is_x86_feature_detected!("fma"),
            "avxvnni" => std::is_x86_feature_detected!("avxvnni"),
            "avx512f" => std::is_x86_feature_detected!("avx512f"),
            "avx512bw" => std::is_x86_feature_detected!("avx512bw"),
            "avx512vnni" => std::is_x86_feature_detected!("avx512vnni"),
            _ => false,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = feature;
        false
    }
}

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
    /// For the AVX2 kernel, the weights on their 4-bit grid (instead of `packed`, `colsum`
    /// and `scale`, which are then empty).
    grid: Option<grid::Grid>,
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

/// Quantizes one row into `dst`; returns its scale and zero point.
#[cfg(test)]
pub fn quantize_row(src: &[f32], dst: &mut [u8]) -> (f32, i32) {
    quantize_row_with(Kernel::current(), src, dst)
}

/// Quantizes one row into `dst` with the vector code of `kernel`; returns its scale and zero
/// point. All kernels give the same bytes but for the rounding of exact halves (see the tests).
#[inline]
pub fn quantize_row_with(kernel: Kernel, src: &[f32], dst: &mut [u8]) -> (f32, i32) {
    #[cfg(target_arch = "x86_64")]
    if dst.len() >= src.len() {
        if kernel == Kernel::Avx512 && src.len().is_multiple_of(16) && kernel.available() {
            // SAFETY: AVX-512 is present (checked), lengths checked.
            return unsafe { vnni::quantize_row(src, dst) };
        }
        if matches!(kernel, Kernel::AvxVnni | Kernel::Avx2)
            && src.len().is_multiple_of(32)
            && Kernel::Avx2.available()
        {
            // SAFETY: AVX2 and FMA are present (checked), lengths checked.
            return unsafe { ops256::quantize_row(src, dst) };
        }
    }
    let _ = kernel;
    quantize_row_portable(src, dst)
}

/// Written so that the compiler vectorises it (min/max without NaN handling, 16 partial
/// results).
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

/// Whether the AVX-512 VNNI kernel can run on this CPU.
pub fn has_vnni() -> bool {
    Kernel::Avx512.available()
}

impl QuantLinear {
    /// Quantizes `w` (`n` rows of `k` floats, row-major like PyTorch's `Linear.weight`)
    /// for the kernel [`Kernel::current`].
    pub fn new(w: &[f32], bias: &[f32], n: usize, k: usize) -> QuantLinear {
        QuantLinear::for_kernel(w, bias, n, k, Kernel::current())
    }

    /// [`Self::new`] for `kernel`: the AVX2 kernel takes the weights on their 4-bit grid
    /// where they have one (see [`grid`]); every kernel can run the result, but the others
    /// only in plain loops then.
    pub fn for_kernel(w: &[f32], bias: &[f32], n: usize, k: usize, kernel: Kernel) -> QuantLinear {
        assert_eq!(w.len(), n * k, "weight shape");
        assert_eq!(bias.len(), n, "bias shape");
        assert!(
            n.is_multiple_of(NB) && k.is_multiple_of(4),
            "n must be a multiple of 64 and k of 4"
        );
        if kernel == Kernel::Avx2
            && let Some(grid) = grid::Grid::find(w, n, k)
        {
            return QuantLinear {
                n,
                k,
                packed: Vec::new(),
                colsum: Vec::new(),
                scale: Vec::new(),
                bias: bias.to_vec(),
                grid: Some(grid),
            };
        }
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
            grid: None,
        }
    }

    /// Whether the weights are on their 4-bit grid (see [`grid`]).
    pub fn on_grid(&self) -> bool {
        self.grid.is_some()
    }

    pub fn blocks(&self) -> usize {
        self.n / NB
    }

    pub fn bytes(&self) -> usize {
        self.packed.len()
            + (self.colsum.len() + self.scale.len() + self.bias.len()) * 4
            + self.grid.as_ref().map_or(0, grid::Grid::bytes)
    }

    /// `out` (`a.rows × n`, row-major) for every output block.
    #[cfg(test)]
    pub fn forward(&self, a: &QuantRows, out: &mut [f32]) {
        self.forward_blocks(a, out, 0..self.blocks(), Kernel::best());
    }

    /// Only the output blocks in `blocks` (columns `64·blocks`). `out` is the whole
    /// `a.rows × n` buffer.
    pub fn forward_blocks(
        &self,
        a: &QuantRows,
        out: &mut [f32],
        blocks: std::ops::Range<usize>,
        kernel: Kernel,
    ) {
        // SAFETY: `out` is an exclusive buffer of `out.len()` floats.
        unsafe { self.forward_blocks_raw(a, out.as_mut_ptr(), out.len(), blocks, kernel) }
    }

    /// [`Self::forward_blocks`] through a pointer, so that threads can each fill their own
    /// blocks of one output. Panics if this CPU cannot run `kernel`.
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
        kernel: Kernel,
    ) {
        assert_eq!(a.k, self.k, "input width");
        assert!(
            len >= a.rows * self.n && blocks.end <= self.blocks(),
            "output shape"
        );
        assert!(
            kernel.available(),
            "this CPU cannot run the {kernel:?} kernel"
        );
        if let Some(grid) = &self.grid {
            let shape = (self.n, self.k, &self.bias[..]);
            // SAFETY: as below; the grid holds every strip of every block.
            #[cfg(target_arch = "x86_64")]
            if kernel == Kernel::Avx2 {
                return unsafe { grid::avx2::forward(grid, shape, a, out, blocks) };
            }
            return unsafe { grid::forward_portable(grid, shape, a, out, blocks) };
        }
        // SAFETY: the shapes were checked above, the CPU features too; the kernels read
        // `a.rows × k` bytes of `a.q` and the packed blocks of `blocks`, and write inside
        // rows × n of `out`.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            match kernel {
                Kernel::Avx512 => return vnni::forward(self, a, out, blocks),
                Kernel::AvxVnni => return avxvnni::forward(self, a, out, blocks),
                Kernel::Avx2 => return avx2::forward(self, a, out, blocks),
                Kernel::Portable => {}
            }
        }
        unsafe { self.forward_portable(a, out, blocks) };
    }

    /// The same integers as the kernels, in plain loops over one 256-byte group of packed
    /// weights at a time (64 outputs × 4 inputs), which the compiler vectorises.
    unsafe fn forward_portable(
        &self,
        a: &QuantRows,
        out: *mut f32,
        blocks: std::ops::Range<usize>,
    ) {
        let (k, quads) = (self.k, self.k / 4);
        for b in blocks {
            let packed = &self.packed[b * quads * NB * 4..(b + 1) * quads * NB * 4];
            for m in 0..a.rows {
                let row = &a.q[m * k..(m + 1) * k];
                let mut acc = [0i32; NB];
                for (x, w) in row.chunks_exact(4).zip(packed.chunks_exact(NB * 4)) {
                    let x = [x[0] as i32, x[1] as i32, x[2] as i32, x[3] as i32];
                    for (acc, w) in acc.iter_mut().zip(w.chunks_exact(4)) {
                        *acc += x[0] * w[0] as i8 as i32
                            + x[1] * w[1] as i8 as i32
                            + x[2] * w[2] as i8 as i32
                            + x[3] * w[3] as i8 as i32;
                    }
                }
                for (lane, &acc) in acc.iter().enumerate() {
                    let nn = b * NB + lane;
                    let corr = acc - a.zp[m] * self.colsum[nn];
                    let y = corr as f32 * (a.scale[m] * self.scale[nn]) + self.bias[nn];
                    // SAFETY: inside rows × n, checked by the caller.
                    unsafe { *out.add(m * self.n + nn) = y };
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

/// The 256-bit kernels: strips of 16 outputs (two 8-lane registers of one packed block) ×
/// up to `$rows` token rows, the whole reduction in registers. `$acts` gives the activations
/// as the kernel reads them (`$width` bytes per four inputs), `$prep` broadcasts one group of
/// them for `$dot`, which multiplies them with the weights; `$offset` is what the kernel took
/// from each activation (see the module documentation), added back with the zero point.
macro_rules! kernel256 {
    (
        $name:ident,
        $features:literal,
        $rows:literal,
        $acts:path,
        $width:literal,
        $prep:path,
        $dot:path,
        $offset:expr
    ) => {
        #[cfg(target_arch = "x86_64")]
        mod $name {
            use super::{NB, QuantLinear, QuantRows};
            use std::arch::x86_64::*;

            #[target_feature(enable = $features)]
            pub(super) unsafe fn forward(
                l: &QuantLinear,
                a: &QuantRows,
                out: *mut f32,
                blocks: std::ops::Range<usize>,
            ) {
                let quads = l.k / 4;
                // SAFETY: `$acts` returns `a.rows × quads × $width` bytes.
                let acts = unsafe { $acts(a) };
                for b in blocks {
                    for strip in 0..NB / 16 {
                        // SAFETY: block b exists in `l`; a strip is 64 bytes of each group.
                        let w = unsafe { l.packed.as_ptr().add(b * quads * NB * 4 + strip * 64) };
                        let n0 = b * NB + strip * 16;
                        let mut m = 0;
                        while m < a.rows {
                            let rows = (a.rows - m).min($rows);
                            // SAFETY: rows m..m+rows exist in `a` and `out`.
                            unsafe {
                                let x = acts.add(m * quads * $width);
                                match rows {
                                    6 => tile::<6>(l, a, m, n0, w, x, out),
                                    5 => tile::<5>(l, a, m, n0, w, x, out),
                                    4 => tile::<4>(l, a, m, n0, w, x, out),
                                    3 => tile::<3>(l, a, m, n0, w, x, out),
                                    2 => tile::<2>(l, a, m, n0, w, x, out),
                                    _ => tile::<1>(l, a, m, n0, w, x, out),
                                }
                            }
                            m += rows;
                        }
                    }
                }
            }

            /// Rows `m0..m0+R` × outputs `n0..n0+16`; `x` is row `m0` of the activations.
            #[target_feature(enable = $features)]
            #[inline]
            #[allow(clippy::too_many_arguments)]
            unsafe fn tile<const R: usize>(
                l: &QuantLinear,
                a: &QuantRows,
                m0: usize,
                n0: usize,
                w: *const u8,
                x: *const u8,
                out: *mut f32,
            ) {
                let row = l.k / 4 * $width;
                let mut acc = [[_mm256_setzero_si256(); 2]; R];
                let mut wp = w;
                let mut kk = 0;
                while kk < row {
                    let (w0, w1) = unsafe {
                        (
                            _mm256_loadu_si256(wp as *const __m256i),
                            _mm256_loadu_si256(wp.add(32) as *const __m256i),
                        )
                    };
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let x = unsafe { $prep(x.add(r * row + kk)) };
                        acc[0] = unsafe { $dot(acc[0], x, w0) };
                        acc[1] = unsafe { $dot(acc[1], x, w1) };
                    }
                    wp = unsafe { wp.add(NB * 4) };
                    kk += $width;
                }
                for (r, acc) in acc.iter().enumerate() {
                    let m = m0 + r;
                    let zp = _mm256_set1_epi32(a.zp[m] - $offset);
                    let sa = _mm256_set1_ps(a.scale[m]);
                    for (j, &v) in acc.iter().enumerate() {
                        let n = n0 + 8 * j;
                        unsafe {
                            let cs = _mm256_loadu_si256(l.colsum.as_ptr().add(n) as *const _);
                            let corr = _mm256_sub_epi32(v, _mm256_mullo_epi32(zp, cs));
                            let s = _mm256_mul_ps(sa, _mm256_loadu_ps(l.scale.as_ptr().add(n)));
                            let y = _mm256_fmadd_ps(
                                _mm256_cvtepi32_ps(corr),
                                s,
                                _mm256_loadu_ps(l.bias.as_ptr().add(n)),
                            );
                            _mm256_storeu_ps(out.add(m * l.n + n), y);
                        }
                    }
                }
            }
        }
    };
}

kernel256!(
    avxvnni,
    "avx2,fma,avxvnni",
    6,
    super::ops256::vnni_acts,
    4,
    super::ops256::vnni_prep,
    super::ops256::vnni_dot,
    0
);
kernel256!(
    avx2,
    "avx2,fma",
    4,
    super::ops256::avx2_acts,
    8,
    super::ops256::avx2_prep,
    super::ops256::avx2_dot,
    128
);

/// The inner steps of the 256-bit kernels.
#[cfg(target_arch = "x86_64")]
mod ops256 {
    use std::arch::x86_64::*;

    /// Four bytes from `p` in every lane, broadcast by a load (`vbroadcastss`) rather than
    /// a load and a shuffle.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn broadcast4(p: *const u8) -> __m256i {
        _mm256_castps_si256(_mm256_broadcast_ss(unsafe { &*(p as *const f32) }))
    }

    /// The activation bytes as they are.
    pub(super) unsafe fn vnni_acts(a: &super::QuantRows) -> *const u8 {
        a.q.as_ptr()
    }

    /// Four activation bytes in every lane (the second register is unused).
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn vnni_prep(p: *const u8) -> (__m256i, __m256i) {
        (unsafe { broadcast4(p) }, _mm256_setzero_si256())
    }

    thread_local! {
        static SIGNED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    /// The activations as the AVX2 kernel reads them: for every four bytes `q`, the four
    /// signed bytes `s = q − 128` (an XOR of the top bit) and then `|s|` (unsigned;
    /// `|−128|` = 128 fits). Computed once per call instead of once per row tile and strip.
    /// The pointer is valid until the next call on this thread.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2_acts(a: &super::QuantRows) -> *const u8 {
        SIGNED.with_borrow_mut(|buf| {
            let n = a.rows * a.k;
            buf.resize(2 * n, 0);
            let (src, dst) = (a.q.as_ptr(), buf.as_mut_ptr());
            let top = _mm256_set1_epi8(-128);
            let mut i = 0;
            while i + 32 <= n {
                unsafe {
                    let s = _mm256_xor_si256(_mm256_loadu_si256(src.add(i) as *const _), top);
                    let abs = _mm256_abs_epi8(s);
                    // Groups of four: s, |s|, s, |s| … (the unpacks work per 128-bit half).
                    let (lo, hi) = (_mm256_unpacklo_epi32(s, abs), _mm256_unpackhi_epi32(s, abs));
                    let d = dst.add(2 * i) as *mut __m256i;
                    _mm256_storeu_si256(d, _mm256_permute2x128_si256(lo, hi, 0x20));
                    _mm256_storeu_si256(d.add(1), _mm256_permute2x128_si256(lo, hi, 0x31));
                }
                i += 32;
            }
            for j in i..n {
                let s = a.q[j] ^ 0x80;
                let (group, t) = (j / 4, j % 4);
                buf[8 * group + t] = s;
                buf[8 * group + 4 + t] = (s as i8).unsigned_abs();
            }
            buf.as_ptr()
        })
    }

    #[target_feature(enable = "avx2,avxvnni")]
    #[inline]
    pub(super) unsafe fn vnni_dot(acc: __m256i, x: (__m256i, __m256i), w: __m256i) -> __m256i {
        _mm256_dpbusd_avx_epi32(acc, x.0, w)
    }

    /// Four signed activation bytes `s` and their magnitudes `|s|` in every lane.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn avx2_prep(p: *const u8) -> (__m256i, __m256i) {
        unsafe { (broadcast4(p), broadcast4(p.add(4))) }
    }

    /// `acc += Σ s·w` over each group of four bytes, as `|s| · sign(w, s)`: the pairs that
    /// `vpmaddubsw` adds stay within ±32,512.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn avx2_dot(acc: __m256i, x: (__m256i, __m256i), w: __m256i) -> __m256i {
        let pairs = _mm256_maddubs_epi16(x.1, _mm256_sign_epi8(w, x.0));
        _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
    }

    /// [`super::quantize_row`] with AVX2: min/max 8 lanes at a time, conversion with
    /// round-to-nearest-even (FMA, as the AVX-512 version) and saturating packs to bytes.
    /// `src.len()` must be a multiple of 32 and `dst` at least as long.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn quantize_row(src: &[f32], dst: &mut [u8]) -> (f32, i32) {
        let n = src.len();
        let (mut lo, mut hi) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let p = src.as_ptr();
        for i in (0..n).step_by(8) {
            let v = unsafe { _mm256_loadu_ps(p.add(i)) };
            lo = _mm256_min_ps(lo, v);
            hi = _mm256_max_ps(hi, v);
        }
        let (mut l8, mut h8) = ([0f32; 8], [0f32; 8]);
        unsafe {
            _mm256_storeu_ps(l8.as_mut_ptr(), lo);
            _mm256_storeu_ps(h8.as_mut_ptr(), hi);
        }
        let lo = l8.iter().fold(0f32, |m, &v| if v < m { v } else { m });
        let hi = h8.iter().fold(0f32, |m, &v| if v > m { v } else { m });
        let scale = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
        let inv = 1.0 / scale;
        let zp = (-lo * inv).round_ties_even().clamp(0.0, 255.0);
        let (vinv, vzp) = (_mm256_set1_ps(inv), _mm256_set1_ps(zp));
        // The packs interleave 128-bit halves; this puts the dwords back in order.
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        for i in (0..n).step_by(32) {
            unsafe {
                let q = |j: usize| eight(p.add(i + 8 * j), vinv, vzp);
                let lo16 = _mm256_packus_epi32(q(0), q(1));
                let hi16 = _mm256_packus_epi32(q(2), q(3));
                let bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(lo16, hi16), order);
                _mm256_storeu_si256(dst.as_mut_ptr().add(i) as *mut __m256i, bytes);
            }
        }
        (scale, zp as i32)
    }

    /// Eight floats from `p` as non-negative i32 `round(v·inv + zp)` (cvtps rounds to
    /// nearest even, the default rounding mode; NaN becomes 0).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn eight(p: *const f32, inv: __m256, zp: __m256) -> __m256i {
        let v = _mm256_fmadd_ps(unsafe { _mm256_loadu_ps(p) }, inv, zp);
        _mm256_max_epi32(_mm256_cvtps_epi32(v), _mm256_setzero_si256())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// The kernel [`Kernel::current`] returns on this thread, instead of the selected one.
        pub(super) static FORCED: Cell<Option<Kernel>> = const { Cell::new(None) };
    }

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

    /// The kernels this CPU can run, with a note of those it cannot.
    fn runnable() -> Vec<Kernel> {
        let (yes, no): (Vec<Kernel>, Vec<Kernel>) =
            Kernel::ALL.into_iter().partition(|k| k.available());
        if !no.is_empty() {
            eprintln!("kernels not tested, this CPU lacks their features: {no:?}");
        }
        yes
    }

    #[test]
    fn every_kernel_is_close_to_f32_for_every_tile_height() {
        let (n, k) = (128, 96);
        let mut seed = 7;
        let w: Vec<f32> = (0..n * k).map(|_| lcg(&mut seed)).collect();
        let b: Vec<f32> = (0..n).map(|_| lcg(&mut seed)).collect();
        let lin = QuantLinear::new(&w, &b, n, k);
        for rows in [1, 2, 3, 4, 5, 6, 7, 13] {
            // Skewed activations (mostly positive), as after GELU.
            let x: Vec<f32> = (0..rows * k).map(|_| lcg(&mut seed) * 3.0 + 1.0).collect();
            let want = reference(&x, &w, &b, rows, n, k);
            let mut a = QuantRows::default();
            a.quantize(&x, k);
            let mut portable = vec![0f32; rows * n];
            lin.forward_blocks(&a, &mut portable, 0..lin.blocks(), Kernel::Portable);
            let err = want
                .iter()
                .zip(&portable)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            let mag = want.iter().map(|v| v.abs()).fold(0f32, f32::max);
            assert!(err < 0.02 * mag, "rows {rows}: error {err} of {mag}");
            for kernel in runnable() {
                let mut fast = vec![f32::NAN; rows * n];
                lin.forward_blocks(&a, &mut fast, 0..lin.blocks(), kernel);
                for (p, f) in portable.iter().zip(&fast) {
                    assert!(
                        (p - f).abs() <= 1e-4 * p.abs().max(1.0),
                        "{kernel:?}, rows {rows}: {f} vs {p}"
                    );
                }
            }
        }
    }

    /// The extremes of both operands, where `vpmaddubsw` would saturate if the AVX2 kernel
    /// multiplied the activation bytes as they are: the integers must be exact.
    #[test]
    fn every_kernel_is_exact_at_the_extremes() {
        let (n, k) = (64, 32);
        // Weights ±1 in a pattern, so that each row quantizes to ±127.
        let w: Vec<f32> = (0..n * k)
            .map(|i| if (i / 3 + i / 64) % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        // 8-bit rows (these weights are on a grid, which the AVX2 kernel would take).
        let lin = QuantLinear::for_kernel(&w, &vec![0.0; n], n, k, Kernel::Portable);
        assert!(!lin.on_grid());
        // Activation bytes 255 and 0, alternating in runs (zero point 0, scale 1).
        let a = QuantRows {
            rows: 2,
            k,
            q: (0..2 * k)
                .map(|i| if (i / 2) % 3 == 0 { 0 } else { 255 })
                .collect(),
            scale: vec![1.0; 2],
            zp: vec![0; 2],
        };
        let mut want = vec![0f32; 2 * n];
        for m in 0..2 {
            for o in 0..n {
                let s: i32 = (0..k)
                    .map(|c| a.q[m * k + c] as i32 * (w[o * k + c] * 127.0) as i32)
                    .sum();
                want[m * n + o] = s as f32 * lin.scale[o];
            }
        }
        for kernel in runnable() {
            let mut got = vec![f32::NAN; 2 * n];
            lin.forward_blocks(&a, &mut got, 0..1, kernel);
            assert_eq!(got, want, "{kernel:?}");
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
        for kernel in runnable() {
            let mut parts = vec![f32::NAN; 3 * n];
            lin.forward_blocks(&a, &mut parts, 0..1, kernel);
            lin.forward_blocks(&a, &mut parts, 1..3, kernel);
            for (w, p) in whole.iter().zip(&parts) {
                assert!((w - p).abs() <= 1e-4 * w.abs().max(1.0), "{kernel:?}");
            }
        }
    }

    #[test]
    fn the_fast_row_quantisations_match_the_portable_one() {
        let mut seed = 3;
        for k in [32, 384, 1536] {
            let x: Vec<f32> = (0..k).map(|_| lcg(&mut seed) * 8.0 + 0.7).collect();
            let mut b = vec![0u8; k];
            let pb = quantize_row_portable(&x, &mut b);
            for kernel in runnable() {
                let mut a = vec![0u8; k];
                let pa = quantize_row_with(kernel, &x, &mut a);
                assert_eq!(pa, pb, "{kernel:?}");
                // Rounding of exact halves may differ in the last bit of a product.
                let diff = a.iter().zip(&b).filter(|(x, y)| x != y).count();
                assert!(diff <= k / 100, "{kernel:?}: {diff} of {k} differ");
                assert!(a.iter().zip(&b).all(|(x, y)| x.abs_diff(*y) <= 1));
            }
        }
        // The AVX2 and AVX-512 versions both use FMA: the same bytes.
        if Kernel::Avx512.available() && Kernel::Avx2.available() {
            let x: Vec<f32> = (0..1536).map(|_| lcg(&mut seed) * 5.0 - 1.0).collect();
            let (mut a, mut b) = (vec![0u8; 1536], vec![0u8; 1536]);
            let pa = quantize_row_with(Kernel::Avx512, &x, &mut a);
            let pb = quantize_row_with(Kernel::Avx2, &x, &mut b);
            assert_eq!((pa, &a), (pb, &b));
        }
    }

    /// Weights as the model's Q4_0 blocks are: `(q − 8)·d` per 32 inputs, `d` per block
    /// (its sign too, as Q4_0 stores it), scaled afterwards as the query weights are.
    fn q4_weights(n: usize, k: usize, seed: &mut u64) -> Vec<f32> {
        let mut w = Vec::with_capacity(n * k);
        for _ in 0..n * k / 32 {
            let d = lcg(seed) * 0.1;
            // The block's extreme at −8 (as Q4_0 rounds), else at most 7.
            let top = if lcg(seed) > 0.0 { 8 } else { 7 };
            for i in 0..32 {
                let q = if i == 5 {
                    -top
                } else {
                    ((lcg(seed) + 0.5) * 15.99) as i32 - 8
                };
                w.push(q.max(-top) as f32 * d * 0.17677669);
            }
        }
        w
    }

    #[test]
    fn q4_weights_are_found_on_their_grid_and_others_are_not() {
        let mut seed = 11;
        let (n, k) = (64, 96);
        let w = q4_weights(n, k, &mut seed);
        let lin = QuantLinear::for_kernel(&w, &vec![0.0; n], n, k, Kernel::Avx2);
        assert!(lin.on_grid());
        let g = grid::Grid::find(&w, n, k).unwrap();
        assert!(g.bytes() >= n * k);
        let mut noisy = w.clone();
        noisy[100] += 1e-3;
        assert!(grid::Grid::find(&noisy, n, k).is_none());
        let random: Vec<f32> = (0..n * k).map(|_| lcg(&mut seed)).collect();
        assert!(!QuantLinear::for_kernel(&random, &vec![0.0; n], n, k, Kernel::Avx2).on_grid());
        // Only the AVX2 kernel takes the grid, and only for widths of whole blocks.
        assert!(!QuantLinear::for_kernel(&w, &vec![0.0; n], n, k, Kernel::Portable).on_grid());
        let w32 = q4_weights(n, 32, &mut seed);
        assert!(QuantLinear::for_kernel(&w32, &vec![0.0; n], n, 32, Kernel::Avx2).on_grid());
        let w4: Vec<f32> = w32.iter().take(n * 4).copied().collect();
        assert!(!QuantLinear::for_kernel(&w4, &vec![0.0; n], n, 4, Kernel::Avx2).on_grid());
    }

    /// The grid kernels against f64 on Q4 weights, every tile height, both zero-point
    /// extremes and the activation bytes 0 and 255 (where an i16 sum of a block would
    /// overflow if the weights were not within ±8).
    #[test]
    fn the_grid_kernels_are_exact_to_the_weights() {
        let mut seed = 5;
        let (n, k) = (128, 96);
        let w = q4_weights(n, k, &mut seed);
        let b: Vec<f32> = (0..n).map(|_| lcg(&mut seed)).collect();
        let lin = QuantLinear::for_kernel(&w, &b, n, k, Kernel::Avx2);
        assert!(lin.on_grid());
        for rows in [1, 2, 3, 4, 5, 7, 13] {
            let q: Vec<u8> = (0..rows * k)
                .map(|i| match (i / 7) % 4 {
                    0 => 0,
                    1 => 255,
                    _ => ((lcg(&mut seed) + 0.5) * 255.0) as u8,
                })
                .collect();
            let a = QuantRows {
                rows,
                k,
                q,
                scale: (0..rows).map(|r| 0.01 + r as f32 * 0.003).collect(),
                zp: (0..rows).map(|r| [0, 255, 128][r % 3]).collect(),
            };
            let mut want = vec![0f64; rows * n];
            for m in 0..rows {
                for o in 0..n {
                    let s: f64 = (0..k)
                        .map(|c| (a.q[m * k + c] as i32 - a.zp[m]) as f64 * w[o * k + c] as f64)
                        .sum();
                    want[m * n + o] = s * a.scale[m] as f64 + b[o] as f64;
                }
            }
            let mag = want.iter().fold(0f64, |m, v| m.max(v.abs()));
            let mut kernels = vec![Kernel::Portable];
            if Kernel::Avx2.available() {
                kernels.push(Kernel::Avx2);
            }
            for kernel in kernels {
                let mut got = vec![f32::NAN; rows * n];
                lin.forward_blocks(&a, &mut got, 0..lin.blocks(), kernel);
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (*g as f64 - w).abs() <= 1e-5 * mag,
                        "{kernel:?}, rows {rows}: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_forced_kernel_is_named_or_refused() {
        assert_eq!(Kernel::from_setting(None), Ok(Kernel::best()));
        assert_eq!(Kernel::from_setting(Some("")), Ok(Kernel::best()));
        assert_eq!(Kernel::from_setting(Some("portable")), Ok(Kernel::Portable));
        let err = Kernel::from_setting(Some("sse9")).unwrap_err();
        assert!(err.contains("unknown kernel"), "{err}");
        for k in Kernel::ALL {
            match Kernel::from_setting(Some(k.name())) {
                Ok(got) => assert_eq!(got, k),
                Err(e) => {
                    assert!(!k.available());
                    assert!(e.contains("this CPU lacks"), "{e}");
                }
            }
        }
        assert!(Kernel::best().available());
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

    /// Dutch messages of the kinds citizens send, short and long, for the embedding test.
    /// (after [`crate::classifier::SAMPLE_MESSAGES`])
    const MORE_DUTCH: &[&str] = &[
        "afval",
        "mijn roze pasje is verlopen",
        "Waar kan ik mijn grofvuil kwijt? Ik heb een oude bank en een kast.",
        "hoe laat is het stadhuis open op zaterdag",
        "Ik heb een boete gekregen maar ik was daar helemaal niet",
        "er ligt al drie dagen een dode kat op straat",
        "Kan ik een afspraak maken voor een identiteitskaart voor mijn dochter van 8?",
        "de straatlantaarn voor mijn huis is kapot",
        "Hoeveel hondenbelasting moet ik betalen voor twee honden?",
        "ik ben mijn paspoort kwijt, ik vlieg volgende week naar Spanje",
        "Wanneer wordt het oud papier opgehaald in de wijk Noord?",
        "mag ik een dakkapel plaatsen zonder vergunning",
        "Mijn buren maken elke nacht lawaai, wie kan ik bellen?",
        "uittreksel basisregistratie personen aanvragen",
        "ik wil trouwen in het gemeentehuis, hoe regel ik dat",
        "Is er een subsidie voor zonnepanelen of isolatie van mijn woning?",
        "geboorteaangifte doen",
        "Mijn moeder is overleden, wat moet ik regelen bij de gemeente?",
        "Er zit een gat in de weg bij de rotonde, fietsers vallen bijna",
        "hoe kan ik bezwaar maken tegen de WOZ-waarde van mijn huis",
        "kan ik mijn kind inschrijven op een nieuw adres",
        "Ik zoek hulp bij schulden, waar kan ik terecht?",
        "bijstandsuitkering aanvragen",
        "Hoe lang duurt het voordat mijn nieuwe paspoort klaar is?",
        "de ondergrondse container zit vol en de klep klemt",
        "Wat zijn de tarieven voor parkeren in het centrum?",
        "verklaring omtrent het gedrag voor mijn nieuwe baan",
        "Bedankt voor de snelle hulp, fijne dag nog!",
    ];

    fn dutch() -> Vec<&'static str> {
        let sample = crate::classifier::SAMPLE_MESSAGES.iter();
        sample.chain(MORE_DUTCH).copied().collect()
    }

    /// Every kernel this CPU has against the f32 reference, on the real model (skipped when
    /// it is not fetched): the cosine of each message's embedding above 0.999.
    #[test]
    fn every_kernel_gives_embeddings_close_to_f32() {
        use crate::classifier::{Encoder, WeightFormat, encoder::cosine};
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/multilingual-e5-small");
        if !dir.join("model.gguf").exists() {
            eprintln!("skipped: the model is missing (run scripts/fetch-model.sh)");
            return;
        }
        let want = Encoder::load(&dir, WeightFormat::F32, 128, 2)
            .unwrap()
            .embed(&dutch())
            .unwrap();
        let mut per_kernel = Vec::new();
        for kernel in runnable() {
            FORCED.with(|f| f.set(Some(kernel)));
            let enc = Encoder::load(&dir, WeightFormat::Int8, 128, 2).unwrap();
            FORCED.with(|f| f.set(None));
            let got = enc.embed(&dutch()).unwrap();
            let cos: Vec<f32> = got.iter().zip(&want).map(|(a, b)| cosine(a, b)).collect();
            let (worst, text) = cos
                .iter()
                .zip(dutch())
                .fold((1f32, ""), |m, (&c, t)| if c < m.0 { (c, t) } else { m });
            eprintln!("{kernel:?}: lowest cosine to f32 {worst:.5} ({text:?})");
            assert!(
                worst > 0.999,
                "{kernel:?}: {text:?} has cosine {worst} to f32"
            );
            per_kernel.push((kernel, got));
        }
        // The kernels on 8-bit rows compute the same integers from the same bytes; their
        // embeddings differ only where float rounding around them (attention, which has an
        // AVX-512 copy) tips an activation into the next quantisation step. The AVX2 kernel
        // multiplies the weights on their 4-bit grid instead (exact where the others round
        // each row to 8 bits), so its embeddings differ by both kernels' errors to f32.
        for (kernel, got) in &per_kernel[1..] {
            let closest = got
                .iter()
                .zip(&per_kernel[0].1)
                .map(|(a, b)| cosine(a, b))
                .fold(1f32, f32::min);
            eprintln!(
                "{kernel:?}: lowest cosine to {:?} {closest:.6}",
                per_kernel[0].0
            );
            assert!(closest > 0.999, "{kernel:?} vs {:?}", per_kernel[0].0);
        }
    }
}
