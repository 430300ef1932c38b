//! Bit-vector values: `bit<W>` and `int<W>` for 1 <= W <= 128, stored as the low `W` bits of a
//! `u128` (two's complement for `int<W>`), with exactly the P4_16 semantics that BMv2 shows.
//!
//! The interpreter works on raw `u128` words whose width and signedness are fixed in the IR, so
//! the operations are free functions over `(u128, width)`; [`Bits`] wraps them for callers that
//! carry the type with the value.

/// The largest supported width.
pub const MAX_WIDTH: u32 = 128;

/// All-ones mask of `w` bits (`w` in 0..=128).
#[inline]
pub fn mask(w: u32) -> u128 {
    if w >= 128 {
        u128::MAX
    } else {
        (1u128 << w) - 1
    }
}

/// Sign-extends the low `w` bits of `v` to an `i128`.
#[inline]
pub fn sext(v: u128, w: u32) -> i128 {
    if w == 0 {
        return 0;
    }
    if w >= 128 {
        return v as i128;
    }
    let sh = 128 - w;
    ((v << sh) as i128) >> sh
}

/// Largest signed value of width `w`.
#[inline]
fn smax(w: u32) -> i128 {
    if w >= 128 {
        i128::MAX
    } else {
        (1i128 << (w - 1)) - 1
    }
}

/// Smallest signed value of width `w`.
#[inline]
fn smin(w: u32) -> i128 {
    if w >= 128 {
        i128::MIN
    } else {
        -(1i128 << (w - 1))
    }
}

/// Wrapping addition.
#[inline]
pub fn add(a: u128, b: u128, w: u32) -> u128 {
    a.wrapping_add(b) & mask(w)
}

/// Wrapping subtraction.
#[inline]
pub fn sub(a: u128, b: u128, w: u32) -> u128 {
    a.wrapping_sub(b) & mask(w)
}

/// Wrapping multiplication (the low `w` bits of the product are the same signed or unsigned).
#[inline]
pub fn mul(a: u128, b: u128, w: u32) -> u128 {
    a.wrapping_mul(b) & mask(w)
}

/// Unsigned division; P4 only allows it on positive values. Division by zero gives 0.
#[inline]
pub fn div(a: u128, b: u128, w: u32) -> u128 {
    a.checked_div(b).unwrap_or(0) & mask(w)
}

/// Unsigned remainder; remainder by zero gives 0.
#[inline]
pub fn rem(a: u128, b: u128, w: u32) -> u128 {
    a.checked_rem(b).unwrap_or(0) & mask(w)
}

/// Saturating addition (`|+|`).
#[inline]
pub fn sat_add(a: u128, b: u128, w: u32, signed: bool) -> u128 {
    if signed {
        let r = sext(a, w).saturating_add(sext(b, w));
        (r.clamp(smin(w), smax(w)) as u128) & mask(w)
    } else {
        match a.checked_add(b) {
            Some(s) if s <= mask(w) => s,
            _ => mask(w),
        }
    }
}

/// Saturating subtraction (`|-|`).
#[inline]
pub fn sat_sub(a: u128, b: u128, w: u32, signed: bool) -> u128 {
    if signed {
        let r = sext(a, w).saturating_sub(sext(b, w));
        (r.clamp(smin(w), smax(w)) as u128) & mask(w)
    } else {
        a.saturating_sub(b)
    }
}

/// Left shift by any amount; amounts >= width give 0.
#[inline]
pub fn shl(a: u128, amount: u128, w: u32) -> u128 {
    if amount >= w as u128 {
        0
    } else {
        (a << amount) & mask(w)
    }
}

/// Right shift by any amount: logical for `bit<W>`, arithmetic for `int<W>`. Amounts >= width
/// give 0, or all ones for a negative `int<W>`.
#[inline]
pub fn shr(a: u128, amount: u128, w: u32, signed: bool) -> u128 {
    if signed {
        let s = sext(a, w);
        let amt = if amount >= w as u128 {
            127
        } else {
            amount as u32
        };
        ((s >> amt.min(127)) as u128) & mask(w)
    } else if amount >= w as u128 {
        0
    } else {
        a >> amount
    }
}

/// Two's complement negation.
#[inline]
pub fn neg(a: u128, w: u32) -> u128 {
    0u128.wrapping_sub(a) & mask(w)
}

/// Bitwise complement.
#[inline]
pub fn not(a: u128, w: u32) -> u128 {
    !a & mask(w)
}

/// `a < b` with the given signedness.
#[inline]
pub fn lt(a: u128, b: u128, w: u32, signed: bool) -> bool {
    if signed {
        sext(a, w) < sext(b, w)
    } else {
        a < b
    }
}

/// `a <= b` with the given signedness.
#[inline]
pub fn le(a: u128, b: u128, w: u32, signed: bool) -> bool {
    if signed {
        sext(a, w) <= sext(b, w)
    } else {
        a <= b
    }
}

/// Bits `hi..=lo` of `v` (`hi >= lo`).
#[inline]
pub fn slice(v: u128, hi: u32, lo: u32) -> u128 {
    (v >> lo) & mask(hi - lo + 1)
}

/// `old` with bits `hi..=lo` replaced by the low bits of `new`.
#[inline]
pub fn set_slice(old: u128, hi: u32, lo: u32, new: u128) -> u128 {
    let m = mask(hi - lo + 1) << lo;
    (old & !m) | ((new << lo) & m)
}

/// `a ++ b` where `b` has width `wb` (the caller ensures the sum of widths is <= 128).
#[inline]
pub fn concat(a: u128, b: u128, wb: u32) -> u128 {
    if wb >= 128 {
        b
    } else {
        (a << wb) | (b & mask(wb))
    }
}

/// Cast from (`from_w`, `from_signed`) to width `to_w`: a signed source is sign-extended, an
/// unsigned one zero-extended, then the result is truncated to `to_w` bits. `bool` is `bit<1>`.
#[inline]
pub fn cast(v: u128, from_w: u32, from_signed: bool, to_w: u32) -> u128 {
    if from_signed {
        (sext(v, from_w) as u128) & mask(to_w)
    } else {
        v & mask(to_w)
    }
}

/// Converts a signed integer to the `w`-bit two's complement representation.
#[inline]
pub fn from_i128(v: i128, w: u32) -> u128 {
    (v as u128) & mask(w)
}

/// A typed bit-vector: the value, its width and whether it is `int<W>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bits {
    /// The low `width` bits hold the value; the rest are zero.
    pub value: u128,
    /// 1..=128.
    pub width: u32,
    /// `int<W>` when true, `bit<W>` otherwise.
    pub signed: bool,
}

impl Bits {
    /// A `bit<W>` value (truncated to `width`).
    pub fn unsigned(value: u128, width: u32) -> Self {
        Bits {
            value: value & mask(width),
            width,
            signed: false,
        }
    }

    /// An `int<W>` value from a signed integer (wrapped to `width`).
    pub fn signed(value: i128, width: u32) -> Self {
        Bits {
            value: from_i128(value, width),
            width,
            signed: true,
        }
    }

    /// The value as a signed integer (for `int<W>`) or unsigned (as `i128` when it fits).
    pub fn to_i128(self) -> i128 {
        if self.signed {
            sext(self.value, self.width)
        } else {
            self.value as i128
        }
    }

    fn same(self, value: u128) -> Self {
        Bits { value, ..self }
    }

    /// Wrapping `+`.
    pub fn wrapping_add(self, o: Bits) -> Bits {
        self.same(add(self.value, o.value, self.width))
    }
    /// Wrapping `-`.
    pub fn wrapping_sub(self, o: Bits) -> Bits {
        self.same(sub(self.value, o.value, self.width))
    }
    /// Wrapping `*`.
    pub fn wrapping_mul(self, o: Bits) -> Bits {
        self.same(mul(self.value, o.value, self.width))
    }
    /// `|+|`.
    pub fn sat_add(self, o: Bits) -> Bits {
        self.same(sat_add(self.value, o.value, self.width, self.signed))
    }
    /// `|-|`.
    pub fn sat_sub(self, o: Bits) -> Bits {
        self.same(sat_sub(self.value, o.value, self.width, self.signed))
    }
    /// `<<` by an unsigned amount.
    pub fn shl_bits(self, amount: u128) -> Bits {
        self.same(shl(self.value, amount, self.width))
    }
    /// `>>` by an unsigned amount.
    pub fn shr_bits(self, amount: u128) -> Bits {
        self.same(shr(self.value, amount, self.width, self.signed))
    }
    /// Unary `-`.
    pub fn neg_bits(self) -> Bits {
        self.same(neg(self.value, self.width))
    }
    /// `~`.
    pub fn not_bits(self) -> Bits {
        self.same(not(self.value, self.width))
    }
    /// `<`.
    pub fn lt(self, o: Bits) -> bool {
        lt(self.value, o.value, self.width, self.signed)
    }
    /// `<=`.
    pub fn le(self, o: Bits) -> bool {
        le(self.value, o.value, self.width, self.signed)
    }
    /// `[hi:lo]`, always `bit<hi-lo+1>`.
    pub fn slice(self, hi: u32, lo: u32) -> Bits {
        Bits::unsigned(slice(self.value, hi, lo), hi - lo + 1)
    }
    /// `++`; the result is signed when the left operand is.
    pub fn concat(self, o: Bits) -> Bits {
        Bits {
            value: concat(self.value, o.value, o.width),
            width: self.width + o.width,
            signed: self.signed,
        }
    }
    /// `(bit<W>)` or `(int<W>)`.
    pub fn cast(self, width: u32, signed: bool) -> Bits {
        Bits {
            value: cast(self.value, self.width, self.signed, width),
            width,
            signed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference semantics for widths up to 16 using i64 arithmetic.
    fn wrap(v: i64, w: u32, signed: bool) -> u128 {
        let m = (1i64 << w) - 1;
        let u = v & m;
        let _ = signed;
        u as u128
    }

    fn as_int(v: u128, w: u32, signed: bool) -> i64 {
        if signed && v >> (w - 1) & 1 == 1 {
            v as i64 - (1i64 << w)
        } else {
            v as i64
        }
    }

    #[test]
    fn exhaustive_small_widths() {
        for w in [1u32, 3, 4, 8] {
            for signed in [false, true] {
                let (lo, hi) = if signed {
                    (-(1i64 << (w - 1)), (1i64 << (w - 1)) - 1)
                } else {
                    (0, (1i64 << w) - 1)
                };
                for a in 0..(1u128 << w) {
                    for b in 0..(1u128 << w) {
                        let ia = as_int(a, w, signed);
                        let ib = as_int(b, w, signed);
                        assert_eq!(add(a, b, w), wrap(ia + ib, w, signed));
                        assert_eq!(sub(a, b, w), wrap(ia - ib, w, signed));
                        assert_eq!(mul(a, b, w), wrap(ia * ib, w, signed));
                        assert_eq!(
                            sat_add(a, b, w, signed),
                            wrap((ia + ib).clamp(lo, hi), w, signed)
                        );
                        assert_eq!(
                            sat_sub(a, b, w, signed),
                            wrap((ia - ib).clamp(lo, hi), w, signed)
                        );
                        assert_eq!(lt(a, b, w, signed), ia < ib);
                        assert_eq!(le(a, b, w, signed), ia <= ib);
                        // shifts by every amount 0..=255 (b is the amount, unsigned)
                    }
                    for amt in 0u128..=255 {
                        let ia = as_int(a, w, signed);
                        let l = if amt >= w as u128 {
                            0
                        } else {
                            wrap(ia << amt, w, signed)
                        };
                        assert_eq!(shl(a, amt, w), l, "shl {a} {amt} w{w}");
                        let r = if signed {
                            wrap(ia >> amt.min(63), w, signed)
                        } else if amt >= w as u128 {
                            0
                        } else {
                            a >> amt
                        };
                        assert_eq!(shr(a, amt, w, signed), r, "shr {a} {amt} w{w} s{signed}");
                    }
                    assert_eq!(neg(a, w), wrap(-as_int(a, w, signed), w, signed));
                    assert_eq!(not(a, w), wrap(!as_int(a, w, signed), w, signed));
                }
            }
        }
    }

    #[test]
    fn corpus_examples() {
        // int<8>: -128 |-| 1 saturates, 127 |+| 1 saturates.
        assert_eq!(sat_sub(0x80, 1, 8, true), 0x80);
        assert_eq!(sat_add(0x7f, 1, 8, true), 0x7f);
        assert_eq!(sat_add(200, 100, 8, false), 255);
        assert_eq!(sat_sub(5, 100, 8, false), 0);
        // arithmetic shift of a negative int<8> by >= width is -1
        assert_eq!(shr(0x80, 200, 8, true), 0xff);
        assert_eq!(shr(0x40, 200, 8, true), 0);
        // widen: (bit<16>)(int<16>) s8
        assert_eq!(cast(cast(0xfe, 8, true, 16), 16, true, 16), 0xfffe);
        assert_eq!(cast(0xfe, 8, false, 16), 0x00fe);
        assert_eq!(cast(0x1234_5678, 32, false, 4), 8);
    }

    #[test]
    fn width_128() {
        let m = u128::MAX;
        assert_eq!(add(m, 1, 128), 0);
        assert_eq!(sub(0, 1, 128), m);
        assert_eq!(sat_add(m, 5, 128, false), m);
        assert_eq!(sat_add(i128::MAX as u128, 5, 128, true), i128::MAX as u128);
        assert_eq!(sat_sub(i128::MIN as u128, 5, 128, true), i128::MIN as u128);
        assert_eq!(shl(1, 127, 128), 1u128 << 127);
        assert_eq!(shl(1, 128, 128), 0);
        assert_eq!(shr(m, 128, 128, false), 0);
        assert_eq!(shr(m, 1000, 128, true), m);
        assert_eq!(shr(1u128 << 127, 127, 128, true), m);
        assert_eq!(neg(1, 128), m);
        assert!(lt(m, 0, 128, true));
        assert!(!lt(m, 0, 128, false));
    }

    #[test]
    fn slices_and_concat() {
        assert_eq!(slice(0xABCD, 11, 4), 0xBC);
        assert_eq!(set_slice(0x1234_5678, 15, 8, 0xAA), 0x1234_AA78);
        assert_eq!(set_slice(0x1234_5678, 3, 0, 0x1F), 0x1234_567F);
        assert_eq!(concat(0xA, 0xB, 4), 0xAB);
        assert_eq!(concat(concat(0x1, 0x2, 4), 0x34, 8), 0x1234);
        let b = Bits::unsigned(0x12, 8).concat(Bits::unsigned(1, 1));
        assert_eq!((b.value, b.width), (0x25, 9));
        assert_eq!(slice(u128::MAX, 127, 0), u128::MAX);
        assert_eq!(concat(0, u128::MAX, 128), u128::MAX);
    }

    #[test]
    fn typed_wrapper() {
        let a = Bits::signed(-3, 8);
        assert_eq!(a.to_i128(), -3);
        assert_eq!(a.shr_bits(1).to_i128(), -2);
        assert_eq!(a.cast(16, true).to_i128(), -3);
        assert_eq!(a.cast(8, false).value, 0xfd);
        assert!(a.lt(Bits::signed(0, 8)));
        assert_eq!(Bits::unsigned(0x1ff, 8).value, 0xff);
        assert_eq!(
            Bits::unsigned(3, 4)
                .wrapping_sub(Bits::unsigned(5, 4))
                .value,
            14
        );
    }
}
