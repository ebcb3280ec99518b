//! Randomness owned by the runtime: counter-based keys split per particle and per address.
//!
//! A [`Key`] is a 64-bit seed that splits deterministically (`key.split(i)`), as JAX's PRNG
//! keys do. Every particle or chain gets `root.split(index)`, and every random choice draws
//! from its address's stream of that key (`particle_key.site_rng(premix(address_hash))`), so
//! a choice's value depends only on the seed, the
//! particle and the address — never on thread count, scheduling, or which other choices ran
//! first. The Burn engine draws the same numbers from the same keys.

use rand::RngCore;

/// A splittable random key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key(pub u64);

/// SplitMix64's finalizer: a bijective 64-bit mixer with full avalanche.
#[inline]
pub(crate) const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The half of [`Key::split`] that depends only on the data; also what a choice's address
/// hash becomes in [`Key::site_rng`].
#[inline]
pub(crate) const fn premix(data: u64) -> u64 {
    mix64(data.wrapping_add(0x9e37_79b9_7f4a_7c15))
}

impl Key {
    /// A root key from a user seed.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Key(mix64(seed ^ 0x5851_f42d_4c95_7f2d))
    }

    /// The child key for `data` (a particle index, chain index or address hash).
    #[inline]
    #[must_use]
    pub const fn split(self, data: u64) -> Key {
        Key(mix64(self.0 ^ premix(data)))
    }

    /// The stream a choice draws from: that of this key (a particle's, a chain's) xor the
    /// premixed hash of the choice's address (`premix(address hash)`, which a plan computes
    /// once for every particle).
    ///
    /// Not `split(address).rng()`: the key and the premixed hash are both already mixed, so
    /// their xor is as good a SplitMix64 starting state as a third mixing would make, and
    /// the choice's draws wait on one mixing less (measured: a fifth of a small model's
    /// importance weight). Two streams overlap only if their states fall within a few
    /// multiples of the increment of each other, for 64-bit pseudo-random states a chance of
    /// order draws² / 2⁶⁴.
    #[inline]
    #[must_use]
    pub(crate) const fn site_rng(self, premixed: u64) -> KeyRng {
        KeyRng { state: self.0 ^ premixed }
    }

    /// `n` independent child keys `split(0..n)`.
    #[must_use]
    pub fn split_n(self, n: usize) -> Vec<Key> {
        (0..n as u64).map(|i| self.split(i)).collect()
    }

    /// A generator for the stream of this key.
    #[inline]
    #[must_use]
    pub fn rng(self) -> KeyRng {
        KeyRng { state: self.0 }
    }
}

/// The SplitMix64 generator seeded by a [`Key`]: tiny state and free to create, which matters
/// because one is created per random choice. It passes BigCrush, and each choice draws only
/// a handful of numbers from it.
#[derive(Clone, Debug)]
pub struct KeyRng {
    state: u64,
}

impl RngCore for KeyRng {
    #[inline]
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    #[inline]
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.state)
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Key;
    use rand::Rng;

    #[test]
    fn split_is_deterministic_and_distinct() {
        let k = Key::new(42);
        assert_eq!(k.split(3), Key::new(42).split(3));
        assert_ne!(k.split(3), k.split(4));
        assert_ne!(k.split(0), k);
    }

    #[test]
    fn uniform_stream_has_the_right_mean() {
        let mut rng = Key::new(7).rng();
        let n = 100_000;
        let mean: f64 = (0..n).map(|_| rng.random::<f64>()).sum::<f64>() / n as f64;
        // sd of the mean of n uniforms = sqrt(1/12 / n) ≈ 0.0009; allow 5 sd.
        assert!((mean - 0.5).abs() < 0.0046, "mean {mean}");
    }
}
