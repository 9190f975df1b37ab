//! Fast element-wise maps: large tensors are cut into fixed chunks that run on several
//! threads, each chunk compiled for AVX2 (`vectorized`), and outputs come from the buffer
//! pool. The reference twins are the one-line iterator maps in `ops/elementwise.rs`.

use rayon::prelude::*;

use super::{buffers, vectorized, PAR_THRESHOLD};

/// `f` applied to every element, on several threads when the slice is large.
pub(crate) fn map(x: &[f32], f: impl Fn(f32) -> f32 + Sync + Send) -> Vec<f32> {
    if x.len() < PAR_THRESHOLD {
        return vectorized(
            #[inline(always)]
            || x.iter().map(|&v| f(v)).collect(),
        );
    }
    let mut out = buffers::take(x.len());
    super::parallel(|| {
        out.par_chunks_mut(PAR_THRESHOLD)
            .zip(x.par_chunks(PAR_THRESHOLD))
            .for_each(|(o, x)| {
                vectorized(
                    #[inline(always)]
                    || {
                        for (o, &v) in o.iter_mut().zip(x) {
                            *o = f(v);
                        }
                    },
                )
            })
    });
    out
}

/// `f` applied pairwise to two slices of equal length.
pub(crate) fn zip(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync + Send) -> Vec<f32> {
    debug_assert_eq!(a.len(), b.len());
    if a.len() < PAR_THRESHOLD {
        return vectorized(
            #[inline(always)]
            || a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect(),
        );
    }
    let mut out = buffers::take(a.len());
    super::parallel(|| {
        out.par_chunks_mut(PAR_THRESHOLD)
            .zip(a.par_chunks(PAR_THRESHOLD).zip(b.par_chunks(PAR_THRESHOLD)))
            .for_each(|(o, (a, b))| {
                vectorized(
                    #[inline(always)]
                    || {
                        for ((o, &x), &y) in o.iter_mut().zip(a).zip(b) {
                            *o = f(x, y);
                        }
                    },
                )
            })
    });
    out
}

/// `a[i] = f(a[i], b[i])` in place: a backward rule writing its result into the incoming
/// gradient's buffer, which nothing else holds, instead of into a fresh one.
pub(crate) fn zip_in_place(a: &mut [f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync + Send) {
    super::parallel(|| {
        a.par_chunks_mut(PAR_THRESHOLD)
            .zip(b.par_chunks(PAR_THRESHOLD))
            .for_each(|(o, b)| {
                vectorized(
                    #[inline(always)]
                    || o.iter_mut().zip(b).for_each(|(o, &b)| *o = f(*o, b)),
                )
            })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threaded_maps_equal_the_plain_iterator_maps() {
        let n = 3 * PAR_THRESHOLD + 17; // several chunks and a ragged tail
        let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
        let f = |x: f32| x.exp() - 1.0;
        let g = |x: f32, y: f32| x * y + x / (1.5 + y);
        assert_eq!(map(&a, f), a.iter().map(|&x| f(x)).collect::<Vec<_>>());
        let want: Vec<f32> = a.iter().zip(&b).map(|(&x, &y)| g(x, y)).collect();
        assert_eq!(zip(&a, &b, g), want);
        let mut c = a.clone();
        zip_in_place(&mut c, &b, g);
        assert_eq!(c, want);
    }
}
