//! The global random generator behind `Tensor::randn`, `Tensor::rand`, layer initialisation
//! and dropout, seeded by [`manual_seed`] like `torch.manual_seed`.
//!
//! It is xoshiro256++ written out here (a dozen lines) rather than a library generator, so
//! that its whole state is four `u64`s a checkpoint can store: resuming a run restores the
//! exact random stream. It implements `rand::RngCore`, so `rand_distr` samples from it.
//! Without a `manual_seed` call, the generator starts from seed 0, so runs are repeatable.

use std::sync::Mutex;

use rand::RngCore;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// The xoshiro256++ generator (Blackman and Vigna), seeded through SplitMix64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Xoshiro256 {
    s: [u64; 4],
}

impl Xoshiro256 {
    /// A generator whose stream depends only on `seed`.
    ///
    /// ```
    /// use kindling::rng::Xoshiro256;
    /// assert_eq!(Xoshiro256::seed_from(1), Xoshiro256::seed_from(1));
    /// ```
    pub fn seed_from(seed: u64) -> Self {
        // SplitMix64 spreads one u64 over the 256-bit state, never all zeros.
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Xoshiro256 {
            s: [next(), next(), next(), next()],
        }
    }

    /// A uniform f32 in `[0, 1)` from the top 24 bits (every value exactly representable).
    ///
    /// ```
    /// use kindling::rng::Xoshiro256;
    /// let v = Xoshiro256::seed_from(3).next_f32();
    /// assert!((0.0..1.0).contains(&v));
    /// ```
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }
}

impl RngCore for Xoshiro256 {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = (s[0].wrapping_add(s[3])).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

static GLOBAL: Mutex<Option<Xoshiro256>> = Mutex::new(None);

/// Seeds the global generator, like `torch.manual_seed`. Everything random in kindling
/// (`randn`, `rand`, layer initialisation, dropout masks) draws from it.
///
/// ```
/// use kindling::{manual_seed, Tensor};
/// manual_seed(42);
/// let a = Tensor::rand(&[2]);
/// manual_seed(42);
/// assert_eq!(a.to_vec(), Tensor::rand(&[2]).to_vec());
/// ```
pub fn manual_seed(seed: u64) {
    *GLOBAL.lock().unwrap_or_else(|e| e.into_inner()) = Some(Xoshiro256::seed_from(seed));
}

/// Runs `f` with the global generator. Layers use this to initialise their weights.
///
/// ```
/// use kindling::rng::with_rng;
/// use rand::RngCore;
/// let x = with_rng(|r| r.next_u64());
/// let _ = x;
/// ```
pub fn with_rng<R>(f: impl FnOnce(&mut Xoshiro256) -> R) -> R {
    let mut guard = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(|| Xoshiro256::seed_from(0)))
}

/// A copy of the global generator's state, for a checkpoint.
///
/// ```
/// use kindling::{rng, Tensor};
/// let saved = rng::get_rng_state();
/// let a = Tensor::randn(&[2]);
/// rng::set_rng_state(saved);
/// assert_eq!(a.to_vec(), Tensor::randn(&[2]).to_vec());
/// ```
pub fn get_rng_state() -> Xoshiro256 {
    with_rng(|r| r.clone())
}

/// Restores the global generator's state saved by [`get_rng_state`].
///
/// ```
/// use kindling::rng;
/// rng::set_rng_state(rng::Xoshiro256::seed_from(5));
/// ```
pub fn set_rng_state(state: Xoshiro256) {
    *GLOBAL.lock().unwrap_or_else(|e| e.into_inner()) = Some(state);
}

pub(crate) fn normal_vec(n: usize) -> Vec<f32> {
    with_rng(|r| (0..n).map(|_| StandardNormal.sample(r)).collect())
}

pub(crate) fn uniform_vec(n: usize) -> Vec<f32> {
    with_rng(|r| (0..n).map(|_| r.next_f32()).collect())
}

/// `n` samples uniform in `[low, high)` from the global generator (for initialisation).
///
/// ```
/// use kindling::rng::uniform;
/// assert!(uniform(10, -0.5, 0.5).iter().all(|v| (-0.5..0.5).contains(v)));
/// ```
pub fn uniform(n: usize, low: f32, high: f32) -> Vec<f32> {
    with_rng(|r| (0..n).map(|_| low + (high - low) * r.next_f32()).collect())
}
