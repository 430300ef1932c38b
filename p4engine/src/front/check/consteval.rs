//! Compile-time evaluation of operators on constant values (P4_16 semantics: fixed-width
//! values wrap, saturating operators clamp, shifts of `int<W>` are arithmetic).

use crate::front::ast::{BinOp, UnOp};
use crate::front::checked::Value;
use crate::front::types::Type;

pub(crate) fn mask(w: u32) -> u128 {
    if w >= 128 {
        u128::MAX
    } else {
        (1u128 << w) - 1
    }
}

/// Two's complement pattern of `v` in `w` bits.
pub(crate) fn to_bits(v: i128, w: u32) -> u128 {
    (v as u128) & mask(w)
}

/// Signed value of a `w`-bit pattern.
pub(crate) fn signed(bits: u128, w: u32) -> i128 {
    if w == 0 {
        return 0;
    }
    if w >= 128 {
        return bits as i128;
    }
    let sign = 1u128 << (w - 1);
    if bits & sign != 0 {
        (bits | !mask(w)) as i128
    } else {
        bits as i128
    }
}

/// Value of `ty` holding `bits` (truncated).
fn bits_of(bits: u128, ty: &Type) -> Option<Value> {
    let w = ty.bit_width()?;
    Some(Value::Bits {
        bits: bits & mask(w),
        ty: ty.clone(),
    })
}

/// The numeric value of an integer constant (signed interpretation for `int<W>`).
fn num(v: &Value) -> Option<i128> {
    match v {
        Value::InfInt(i) => Some(*i),
        Value::Bits { bits, ty } => match ty {
            Type::Int(w) => Some(signed(*bits, *w)),
            _ => i128::try_from(*bits).ok(),
        },
        Value::Bool(b) => Some(i128::from(*b)),
        _ => None,
    }
}

/// Convert a constant to `to` (implicit conversion of unsized integers and casts).
pub(crate) fn convert(v: &Value, to: &Type) -> Option<Value> {
    match (v, to) {
        (Value::Bool(b), Type::Bool) => Some(Value::Bool(*b)),
        (Value::Bool(b), Type::Bit(1)) => bits_of(u128::from(*b), to),
        (Value::Bits { bits, .. }, Type::Bool) => Some(Value::Bool(*bits != 0)),
        (Value::InfInt(i), Type::Bit(w) | Type::Int(w)) => Some(Value::Bits {
            bits: to_bits(*i, *w),
            ty: to.clone(),
        }),
        (Value::InfInt(i), Type::SerEnum { repr, .. }) => {
            let w = repr.bit_width()?;
            Some(Value::Bits {
                bits: to_bits(*i, w),
                ty: to.clone(),
            })
        }
        (Value::Bits { bits, ty }, Type::Bit(_) | Type::Int(_) | Type::SerEnum { .. }) => {
            // Widening an int<W> sign-extends; everything else zero-extends or truncates.
            let raw = match ty {
                Type::Int(fw) => signed(*bits, *fw) as u128,
                _ => *bits,
            };
            bits_of(raw, to)
        }
        (Value::Bits { bits, .. }, Type::InfInt) => i128::try_from(*bits).ok().map(Value::InfInt),
        (Value::InfInt(i), Type::InfInt) => Some(Value::InfInt(*i)),
        (Value::Error(_), Type::Error) | (Value::Enum { .. }, Type::Enum(_)) => Some(v.clone()),
        (Value::Str(_), Type::String) => Some(v.clone()),
        _ => None,
    }
}

pub(crate) fn unary(op: UnOp, v: &Value, ty: &Type) -> Option<Value> {
    match (op, v) {
        (UnOp::Not, Value::Bool(b)) => Some(Value::Bool(!b)),
        (UnOp::Plus, _) => Some(v.clone()),
        (UnOp::Neg, Value::InfInt(i)) => i.checked_neg().map(Value::InfInt),
        (UnOp::Neg, Value::Bits { bits, .. }) => bits_of(bits.wrapping_neg(), ty),
        (UnOp::BitNot, Value::Bits { bits, .. }) => bits_of(!bits, ty),
        _ => None,
    }
}

/// Evaluate `a op b`; `ty` is the type of the result (for comparisons, the operand type is
/// taken from the values).
pub(crate) fn binary(op: BinOp, a: &Value, b: &Value, ty: &Type) -> Option<Value> {
    use BinOp::*;
    match op {
        And | Or => {
            let (Value::Bool(x), Value::Bool(y)) = (a, b) else {
                return None;
            };
            return Some(Value::Bool(if op == And { *x && *y } else { *x || *y }));
        }
        Eq | Ne => {
            let eq = match (a, b) {
                (Value::Bits { bits: x, .. }, Value::Bits { bits: y, .. }) => x == y,
                _ => match (num(a), num(b)) {
                    (Some(x), Some(y)) => x == y,
                    _ => a == b,
                },
            };
            return Some(Value::Bool(if op == Eq { eq } else { !eq }));
        }
        Lt | Le | Gt | Ge => {
            let (x, y) = (num(a)?, num(b)?);
            return Some(Value::Bool(match op {
                Lt => x < y,
                Le => x <= y,
                Gt => x > y,
                _ => x >= y,
            }));
        }
        Concat => {
            let (Value::Bits { bits: x, .. }, Value::Bits { bits: y, ty: yt }) = (a, b) else {
                return None;
            };
            let wy = yt.bit_width()?;
            let shifted = if wy >= 128 { 0 } else { x << wy };
            return bits_of(shifted | y, ty);
        }
        _ => {}
    }
    if *ty == Type::InfInt {
        let (x, y) = (num(a)?, num(b)?);
        let r = match op {
            Add => x.checked_add(y)?,
            Sub => x.checked_sub(y)?,
            Mul => x.checked_mul(y)?,
            Div => x.checked_div(y)?,
            Mod => x.checked_rem(y)?,
            Shl => x.checked_shl(u32::try_from(y).ok()?)?,
            Shr => x.checked_shr(u32::try_from(y).ok()?)?,
            BitAnd => x & y,
            BitOr => x | y,
            BitXor => x ^ y,
            _ => return None,
        };
        return Some(Value::InfInt(r));
    }
    let w = ty.bit_width()?;
    let signed_ty = matches!(ty, Type::Int(_));
    let Value::Bits { bits: x, .. } = convert(a, ty)? else {
        return None;
    };
    let r = match op {
        Shl | Shr => {
            let n = num(b)?;
            if n < 0 {
                return None;
            }
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            if op == Shl {
                if n >= w { 0 } else { x << n }
            } else if signed_ty {
                let s = signed(x, w);
                let r = if n >= w {
                    if s < 0 { -1 } else { 0 }
                } else {
                    s >> n
                };
                to_bits(r, w)
            } else if n >= w {
                0
            } else {
                x >> n
            }
        }
        _ => {
            let Value::Bits { bits: y, .. } = convert(b, ty)? else {
                return None;
            };
            match op {
                Add => x.wrapping_add(y),
                Sub => x.wrapping_sub(y),
                Mul => x.wrapping_mul(y),
                Div => x.checked_div(y)?,
                Mod => x.checked_rem(y)?,
                BitAnd => x & y,
                BitOr => x | y,
                BitXor => x ^ y,
                SatAdd | SatSub => {
                    if signed_ty {
                        let (sx, sy) = (signed(x, w), signed(y, w));
                        let (min, max) = if w >= 128 {
                            (i128::MIN, i128::MAX)
                        } else {
                            (-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1)
                        };
                        let r = if op == SatAdd {
                            sx.saturating_add(sy)
                        } else {
                            sx.saturating_sub(sy)
                        };
                        to_bits(r.clamp(min, max), w)
                    } else if op == SatAdd {
                        let r = x.saturating_add(y);
                        if r > mask(w) { mask(w) } else { r }
                    } else {
                        x.saturating_sub(y)
                    }
                }
                _ => return None,
            }
        }
    };
    bits_of(r, ty)
}

/// `value[hi:lo]` of a fixed-width constant.
pub(crate) fn slice(v: &Value, hi: u32, lo: u32) -> Option<Value> {
    let Value::Bits { bits, .. } = v else {
        return None;
    };
    let w = hi - lo + 1;
    Some(Value::Bits {
        bits: (bits >> lo) & mask(w),
        ty: Type::Bit(w),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(bits: u128, w: u32) -> Value {
        Value::Bits {
            bits,
            ty: Type::Bit(w),
        }
    }

    fn i(bits: u128, w: u32) -> Value {
        Value::Bits {
            bits,
            ty: Type::Int(w),
        }
    }

    #[test]
    fn wrapping_and_saturating() {
        assert_eq!(
            binary(BinOp::Add, &b(250, 8), &b(10, 8), &Type::Bit(8)),
            Some(b(4, 8))
        );
        assert_eq!(
            binary(BinOp::SatAdd, &b(250, 8), &b(10, 8), &Type::Bit(8)),
            Some(b(255, 8))
        );
        assert_eq!(
            binary(BinOp::SatSub, &b(5, 8), &b(10, 8), &Type::Bit(8)),
            Some(b(0, 8))
        );
        // int<8>: 100 |+| 100 = 127, -100 |-| 100 = -128
        assert_eq!(
            binary(BinOp::SatAdd, &i(100, 8), &i(100, 8), &Type::Int(8)),
            Some(i(127, 8))
        );
        assert_eq!(
            binary(BinOp::SatSub, &i(156, 8), &i(100, 8), &Type::Int(8)),
            Some(i(128, 8))
        );
    }

    #[test]
    fn shifts_and_concat() {
        assert_eq!(
            binary(BinOp::Shr, &i(0x80, 8), &b(9, 8), &Type::Int(8)),
            Some(i(0xFF, 8))
        );
        assert_eq!(
            binary(BinOp::Shl, &b(1, 8), &b(8, 8), &Type::Bit(8)),
            Some(b(0, 8))
        );
        assert_eq!(
            binary(BinOp::Concat, &b(0xA, 4), &b(0xBC, 8), &Type::Bit(12)),
            Some(b(0xABC, 12))
        );
    }

    #[test]
    fn conversions() {
        assert_eq!(convert(&Value::InfInt(-1), &Type::Bit(8)), Some(b(255, 8)));
        assert_eq!(convert(&i(0xFF, 8), &Type::Int(16)), Some(i(0xFFFF, 16)));
        assert_eq!(unary(UnOp::Neg, &b(1, 8), &Type::Bit(8)), Some(b(255, 8)));
        assert_eq!(slice(&b(0xABCD, 16), 11, 4), Some(b(0xBC, 8)));
    }
}
