//! Batch verification of signatures made by one key.
//!
//! The textbook check (Bernstein et al., "High-speed high-security signatures", §4): for
//! signatures `(Rᵢ, sᵢ)` on messages `Mᵢ` under the key `A`, with `kᵢ = H(Rᵢ ‖ A ‖ Mᵢ)` and
//! fresh random weights `zᵢ`, every signature verifies only if
//!
//! ```text
//! Σ zᵢ·Rᵢ + (Σ zᵢ·kᵢ)·A − (Σ zᵢ·sᵢ)·B = 0
//! ```
//!
//! `ed25519_dalek::verify_batch` handles any mix of keys, so it multiplies `A` once per
//! signature. A district signs every card with one key (two during a rotation), so here `A`
//! collapses into one term and both `A` and the base point `B` use tables precomputed once per
//! key: about 11 µs a signature instead of 18 in batches of 32 on this machine
//! (`benches/card_pdf.rs`, "verify").
//!
//! Strictness (see `LAYOUT.md` § "Batch verification"): callers only batch signatures that pass
//! `strict::batchable`, the key set only holds canonical, torsion-free keys, and the equation is
//! the cofactorless one with odd weights, so a nonce `R` with a torsion component `T` leaves
//! `zᵢ·T ≠ 0` and fails the batch — unless a second such signature in the same batch cancels it.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint, VartimeEdwardsPrecomputation};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimePrecomputedMultiscalarMul};
use ed25519_dalek::VerifyingKey;
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha512};

/// A public key prepared for batches: its encoding and the tables for `B` and `A`.
pub struct BatchKey {
    encoded: [u8; 32],
    tables: VartimeEdwardsPrecomputation,
}

impl BatchKey {
    /// Prepares `key` (about the cost of a few signature checks, once per key).
    pub fn new(key: &VerifyingKey) -> Self {
        Self {
            encoded: key.to_bytes(),
            tables: VartimeEdwardsPrecomputation::new([ED25519_BASEPOINT_POINT, key.to_edwards()]),
        }
    }
    /// The public key's encoding, which identifies it.
    pub fn encoded(&self) -> &[u8; 32] {
        &self.encoded
    }
}

impl std::fmt::Debug for BatchKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchKey")
            .field("key", &hex::encode(self.encoded))
            .finish_non_exhaustive()
    }
}

/// Whether every `(message, signature)` verifies under `key`. `false` means at least one does
/// not (or one could not be decoded): check them one by one to find which.
pub fn verify_all(
    key: &BatchKey,
    items: &[(&[u8], &[u8; 64])],
    rng: &mut (impl RngCore + CryptoRng),
) -> bool {
    let mut weights = Vec::with_capacity(items.len());
    let mut nonces = Vec::with_capacity(items.len());
    let mut sum_zs = Scalar::ZERO;
    let mut sum_zk = Scalar::ZERO;
    for (message, signature) in items {
        let (r, s) = signature.split_at(32);
        let Some(nonce) = CompressedEdwardsY::from_slice(r)
            .ok()
            .and_then(|c| c.decompress())
        else {
            return false;
        };
        let Some(s) = s
            .try_into()
            .ok()
            .and_then(|s: [u8; 32]| Option::<Scalar>::from(Scalar::from_canonical_bytes(s)))
        else {
            return false;
        };
        let k = Scalar::from_bytes_mod_order_wide(
            &Sha512::new()
                .chain_update(r)
                .chain_update(key.encoded)
                .chain_update(message)
                .finalize()
                .into(),
        );
        let z = odd_weight(rng);
        sum_zs += z * s;
        sum_zk += z * k;
        weights.push(z);
        nonces.push(nonce);
    }
    let sum: EdwardsPoint =
        key.tables
            .vartime_mixed_multiscalar_mul([-sum_zs, sum_zk], &weights, &nonces);
    sum.is_identity()
}

/// A uniformly random odd 128-bit weight: 2¹²⁷ choices keep a forgery's chance of passing at
/// 2⁻¹²⁷, and oddness keeps every torsion term `z·T` non-zero.
fn odd_weight(rng: &mut (impl RngCore + CryptoRng)) -> Scalar {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes[..16]);
    bytes[0] |= 1;
    Scalar::from_bytes_mod_order(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn signed(n: usize) -> (SigningKey, Vec<Vec<u8>>, Vec<[u8; 64]>) {
        let key = SigningKey::from_bytes(&[3; 32]);
        let messages: Vec<Vec<u8>> = (0..n).map(|i| format!("card {i}").into_bytes()).collect();
        let sigs = messages.iter().map(|m| key.sign(m).to_bytes()).collect();
        (key, messages, sigs)
    }

    fn items<'a>(messages: &'a [Vec<u8>], sigs: &'a [[u8; 64]]) -> Vec<(&'a [u8], &'a [u8; 64])> {
        messages.iter().map(Vec::as_slice).zip(sigs).collect()
    }

    #[test]
    fn good_signatures_pass_and_any_single_change_fails() {
        let mut rng = StdRng::seed_from_u64(1);
        let (key, messages, sigs) = signed(40);
        let batch = BatchKey::new(&key.verifying_key());
        assert!(verify_all(&batch, &items(&messages, &sigs), &mut rng));
        for i in [0, 17, 39] {
            for byte in [0, 31, 32, 63] {
                let mut bad = sigs.clone();
                bad[i][byte] ^= 0x02;
                assert!(
                    !verify_all(&batch, &items(&messages, &bad), &mut rng),
                    "signature {i} byte {byte}"
                );
            }
            let mut other = messages.clone();
            other[i].push(b'!');
            assert!(
                !verify_all(&batch, &items(&other, &sigs), &mut rng),
                "message {i}"
            );
        }
        // Two signatures swapped between their messages.
        let mut swapped = sigs.clone();
        swapped.swap(3, 4);
        assert!(!verify_all(&batch, &items(&messages, &swapped), &mut rng));
        // Another key's signatures.
        let other = BatchKey::new(&SigningKey::from_bytes(&[4; 32]).verifying_key());
        assert!(!verify_all(&other, &items(&messages, &sigs), &mut rng));
    }

    #[test]
    fn a_non_canonical_s_fails_even_if_it_would_reduce_to_a_good_one() {
        let mut rng = StdRng::seed_from_u64(2);
        let (key, messages, mut sigs) = signed(4);
        // s + ℓ: the same scalar mod ℓ, but not its canonical encoding.
        let l_minus_one = (Scalar::ZERO - Scalar::ONE).to_bytes();
        let mut s = [0u8; 32];
        s.copy_from_slice(&sigs[1][32..]);
        let mut carry = 1u16;
        for (byte, l) in s.iter_mut().zip(l_minus_one) {
            let v = u16::from(*byte) + u16::from(l) + carry;
            *byte = v as u8;
            carry = v >> 8;
        }
        sigs[1][32..].copy_from_slice(&s);
        let batch = BatchKey::new(&key.verifying_key());
        assert!(!verify_all(&batch, &items(&messages, &sigs), &mut rng));
    }
}
