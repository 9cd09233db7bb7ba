//! Cheap byte-level checks that make batch verification as strict as `verify_strict`.
//!
//! `verify_strict` rejects: a non-canonical `s` (≥ ℓ), a small-order `R` or `A`, and (by
//! comparing the recomputed `R` with the given bytes) a non-canonical `R` encoding. Batch
//! verification only rejects a non-canonical `s`, and checks the cofactored equation
//! `[8](sB − kA − R) = 0`. We therefore keep out of batches every signature whose `R` is
//! non-canonical or of small order (these go to the single strict check), and accept only keys
//! that are canonical, torsion-free points (`KeySet` refuses others).

/// The group order ℓ, little-endian.
const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

/// Encodings of the eight small-order points, plus the two "negative zero" encodings
/// (x = 0 with the sign bit set) that decode to small-order points.
const SMALL_ORDER: [[u8; 32]; 10] = [
    hex32("0100000000000000000000000000000000000000000000000000000000000000"),
    hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex32("0000000000000000000000000000000000000000000000000000000000000000"),
    hex32("0000000000000000000000000000000000000000000000000000000000000080"),
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
    hex32("0100000000000000000000000000000000000000000000000000000000000080"),
    hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
];

const fn hex32(s: &str) -> [u8; 32] {
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not a lowercase hex digit"),
    }
}

/// Whether a little-endian 256-bit integer is below ℓ (a canonical scalar).
pub fn scalar_is_canonical(s: &[u8; 32]) -> bool {
    for i in (0..32).rev() {
        if s[i] != ELL[i] {
            return s[i] < ELL[i];
        }
    }
    false
}

/// Whether a point encoding's y coordinate is below p = 2²⁵⁵ − 19.
pub fn point_is_canonical(r: &[u8; 32]) -> bool {
    // y ≥ p only when y is one of p..2²⁵⁵−1: low byte ≥ 0xed, then all 0xff, top byte 0x7f.
    let top = r[31] & 0x7f;
    !(top == 0x7f && r[1..31].iter().all(|b| *b == 0xff) && r[0] >= 0xed)
}

/// Whether a signature may go into a batch: canonical `s`, canonical `R` not of small order.
pub fn batchable(signature: &[u8; 64]) -> bool {
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    r.copy_from_slice(&signature[..32]);
    s.copy_from_slice(&signature[32..]);
    scalar_is_canonical(&s) && point_is_canonical(&r) && !SMALL_ORDER.contains(&r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ell_and_p_boundaries() {
        assert!(!scalar_is_canonical(&ELL));
        let mut below = ELL;
        below[0] -= 1;
        assert!(scalar_is_canonical(&below));
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        assert!(!point_is_canonical(&p));
        p[0] = 0xec;
        assert!(point_is_canonical(&p));
    }
}
