//! Reproducible garbage for the arbitrary-input tests: a seeded generator and a mutator that
//! makes one to four random edits (bit flips, byte overwrites, truncation, insertion, deletion)
//! to a valid encoding, so the decoders are exercised past their first length check.

/// A small deterministic generator (xorshift64*): reproducible bytes, not quality.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (zero is replaced, it would stay zero).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    /// A random byte.
    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }
    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.byte()).collect()
    }

    /// `input` with one to four random edits.
    pub fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
        let mut b = input.to_vec();
        for _ in 0..1 + self.below(4) {
            match self.below(6) {
                0 | 1 if !b.is_empty() => {
                    let i = self.below(b.len());
                    b[i] ^= 1 << self.below(8);
                }
                2 if !b.is_empty() => {
                    let i = self.below(b.len());
                    b[i] = self.byte();
                }
                3 => b.truncate(self.below(b.len() + 1)),
                4 => {
                    let i = self.below(b.len() + 1);
                    for _ in 0..1 + self.below(8) {
                        let x = self.byte();
                        b.insert(i, x);
                    }
                }
                _ if !b.is_empty() => {
                    let i = self.below(b.len());
                    let n = 1 + self.below((b.len() - i).min(8));
                    b.drain(i..i + n);
                }
                _ => {
                    let x = self.byte();
                    b.push(x);
                }
            }
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_mutations() {
        let input = [7u8; 40];
        let (mut a, mut b) = (Rng::new(5), Rng::new(5));
        for _ in 0..100 {
            assert_eq!(a.mutate(&input), b.mutate(&input));
        }
    }

    #[test]
    fn mutations_change_the_input() {
        let input: Vec<u8> = (0..64).collect();
        let mut r = Rng::new(11);
        let changed = (0..200).filter(|_| r.mutate(&input) != input).count();
        assert!(changed > 150, "{changed}");
    }
}
