//! A dense product of small f32 matrices through the cache-blocked kernels of `gemm`
//! (the crate candle's CPU backend uses), for the intent head's training and the fusion fit.

/// `dst[m×n] = a[m×k] · b[k×n]`, with `dst` row-major and `a`, `b` read through their row
/// and column strides (so a transposed operand needs no copy).
pub(crate) fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    a: &[f32],
    (a_rs, a_cs): (usize, usize),
    b: &[f32],
    (b_rs, b_cs): (usize, usize),
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(dst.len() >= m * n);
    if k == 0 {
        dst[..m * n].fill(0.0);
        return;
    }
    // The last element each operand is read at must lie inside it.
    assert!((m - 1) * a_rs + (k - 1) * a_cs < a.len());
    assert!((k - 1) * b_rs + (n - 1) * b_cs < b.len());
    // SAFETY: the asserts above keep every access of `gemm` (over m×k, k×n and m×n
    // elements with these strides) inside the three slices, and `dst` is borrowed
    // mutably, so it does not overlap `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplies_plain_and_transposed_operands() {
        let (m, n, k) = (5, 7, 9);
        let a: Vec<f32> = (0..m * k).map(|i| (i % 5) as f32 - 2.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.5).collect();
        let mut want = vec![0f32; m * n];
        for r in 0..m {
            for c in 0..n {
                want[r * n + c] = (0..k).map(|j| a[r * k + j] * b[j * n + c]).sum();
            }
        }
        let mut got = vec![f32::NAN; m * n];
        matmul((m, n, k), &mut got, &a, (k, 1), &b, (n, 1));
        assert_eq!(got, want);
        // aᵀ read in place: (j, r) of aᵀ is a[r][j]; the product aᵀ·x is k×1.
        let x: Vec<f32> = (0..m).map(|i| i as f32).collect();
        let mut t = vec![0f32; k];
        matmul((k, 1, m), &mut t, &a, (1, k), &x, (1, 1));
        for j in 0..k {
            assert_eq!(t[j], (0..m).map(|r| a[r * k + j] * x[r]).sum::<f32>());
        }
        // k = 0: a zero product.
        matmul((2, 2, 0), &mut got, &[], (0, 1), &[], (2, 1));
        assert_eq!(&got[..4], &[0.0; 4]);
    }
}
