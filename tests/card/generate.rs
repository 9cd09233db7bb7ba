//! The deterministic generator of the corpus and fixtures in `tests/card/`.
//!
//! Everything comes from fixed seeds: Ed25519 signing is deterministic (RFC 8032), serials come
//! from a seeded `StdRng`, gzip output is fixed for a given flate2 version. Re-make the files
//! with `GC_REGENERATE_CORPUS=1 cargo test --test card corpus_files_match_the_generator`.

use chrono::{DateTime, NaiveDate, Utc};
use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::scalar::Scalar;
use greenchannel::card::keys::CardSigner;
use greenchannel::card::keyset::{KeyEntry, KeySet, KeyStatus};
use greenchannel::card::payload::{CardPayload, CardSerial, IdLastFour, MaskedName};
use greenchannel::card::qr::{sign_payload, CARD_SIGNING_CONTEXT, PREFIX};
use greenchannel::card::status::{CardState, StatusList};
use rand::rngs::StdRng;
use rand::SeedableRng;
use sha2::{Digest, Sha512};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// The instant and date every corpus case is verified at.
pub const NOW: &str = "2020-06-02T00:00:00Z";

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW)
        .map(|d| d.with_timezone(&Utc))
        .expect("fixed instant")
}

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("fixed date")
}

/// Seeds of the fixture keys.
pub const ACTIVE: [u8; 32] = [1; 32];
pub const ROTATED: [u8; 32] = [2; 32];
pub const RETIRED: [u8; 32] = [3; 32];
pub const COMPROMISED: [u8; 32] = [4; 32];
/// Not in the key set: "another district".
pub const OTHER: [u8; 32] = [5; 32];

pub const REVOKED_INDEX: u32 = 1001;
pub const SUSPENDED_INDEX: u32 = 1002;

pub fn signer(seed: [u8; 32]) -> CardSigner {
    CardSigner::from_seed(seed, date("2019-01-01"), date("2030-12-31"))
}

fn entry(seed: [u8; 32], status: KeyStatus, signed_until: Option<&str>) -> KeyEntry {
    let mut e = signer(seed).entry().clone();
    e.status = status;
    e.signed_until = signed_until.map(date);
    e
}

/// The key set: active, rotated out (verify_only since 2019-12-31), retired, compromised.
pub fn key_set() -> KeySet {
    KeySet::new(vec![
        entry(ROTATED, KeyStatus::VerifyOnly, Some("2019-12-31")),
        entry(RETIRED, KeyStatus::Retired, None),
        entry(COMPROMISED, KeyStatus::Compromised, None),
        entry(ACTIVE, KeyStatus::Active, None),
    ])
}

/// The status list: made 2020-06-01, valid a week.
pub fn status_list_json() -> String {
    let list = StatusList::from_entries([
        (REVOKED_INDEX, CardState::Revoked),
        (SUSPENDED_INDEX, CardState::Suspended),
    ])
    .expect("indices in range");
    let issued = DateTime::parse_from_rfc3339("2020-06-01T00:00:00Z")
        .expect("fixed")
        .with_timezone(&Utc);
    let until = DateTime::parse_from_rfc3339("2020-06-08T00:00:00Z")
        .expect("fixed")
        .with_timezone(&Utc);
    list.sign(&signer(ACTIVE), issued, until).to_json()
}

/// A payload for a key seed; `n` varies the serial.
pub fn payload(
    seed: [u8; 32],
    rng: &mut StdRng,
    issued: &str,
    expires: &str,
    index: u32,
) -> CardPayload {
    CardPayload {
        key_id: signer(seed).key_id(),
        serial: CardSerial::random(rng),
        masked_name: MaskedName::mask("张小兰").expect("valid name"),
        id_last_four: IdLastFour::of_id_number("11010519491231002X").expect("valid id"),
        issued: date(issued),
        expires: date(expires),
        status_index: index,
    }
}

fn card(seed: [u8; 32], p: &CardPayload) -> String {
    sign_payload(&signer(seed), p).expect("signable")
}

fn raw(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(&text[PREFIX.len()..])
        .expect("own text")
}

fn text(bytes: &[u8]) -> String {
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Signs a payload with a hand-chosen nonce point `R = rB + torsion`, as only a key holder
/// could; used to probe strictness.
pub fn craft(
    seed: [u8; 32],
    payload_bytes: &[u8],
    r: Scalar,
    torsion: Option<[u8; 32]>,
) -> Vec<u8> {
    let h = Sha512::digest(seed);
    let mut a_bytes = [0u8; 32];
    a_bytes.copy_from_slice(&h[..32]);
    a_bytes[0] &= 248;
    a_bytes[31] &= 127;
    a_bytes[31] |= 64;
    let a = Scalar::from_bytes_mod_order(a_bytes);
    let mut big_r = curve25519_dalek::constants::ED25519_BASEPOINT_POINT * r;
    if let Some(t) = torsion {
        big_r += CompressedEdwardsY(t).decompress().expect("torsion point");
    }
    let r_bytes = big_r.compress().to_bytes();
    let pk = signer(seed).entry().public_key.clone();
    let pk = URL_SAFE_NO_PAD.decode(pk).expect("own key");
    let mut msg = CARD_SIGNING_CONTEXT.to_vec();
    msg.extend_from_slice(payload_bytes);
    let k = Scalar::from_hash(
        Sha512::new()
            .chain_update(r_bytes)
            .chain_update(&pk)
            .chain_update(&msg),
    );
    let s = r + k * a;
    let mut out = payload_bytes.to_vec();
    out.extend_from_slice(&r_bytes);
    out.extend_from_slice(s.as_bytes());
    out
}

/// The order-2 torsion point (0, −1).
pub const TORSION2: [u8; 32] = [
    0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
];

/// An order-4 torsion point (√−1, 0).
pub const TORSION4: [u8; 32] = [0; 32];

/// An order-8 torsion point.
pub const TORSION8: [u8; 32] = [
    0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
    0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
];

/// One corpus case.
pub struct Case {
    pub name: &'static str,
    pub description: &'static str,
    pub qr: String,
    pub expected: &'static str,
    pub with_status_list: bool,
}

/// The corpus: one valid card and one case per kind of bad input.
pub fn corpus() -> Vec<Case> {
    let mut rng = StdRng::seed_from_u64(20200602);
    let mut p = |seed, issued, expires, index| payload(seed, &mut rng, issued, expires, index);
    let valid_p = p(ACTIVE, "2020-06-01", "2025-05-31", 1000);
    let valid = card(ACTIVE, &valid_p);
    let valid_raw = raw(&valid);
    let payload_len = valid_raw.len() - 64;

    let mut flipped_payload = valid_raw.clone();
    flipped_payload[12] ^= 0x01; // inside the serial: still parses, signature no longer covers it
    let mut flipped_sig = valid_raw.clone();
    flipped_sig[payload_len + 40] ^= 0x80;
    let mut extra = valid_raw.clone();
    extra.extend_from_slice(&[0, 0, 0]);
    let mut version2 = valid_raw.clone();
    version2[0] = 2;
    let mut bad_utf8 = valid_raw.clone();
    bad_utf8[35] = 0xff; // inside 张*兰's first character
                         // s + ℓ: the same signature with a non-canonical scalar.
    let mut non_canonical = valid_raw.clone();
    let ell: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(non_canonical[payload_len + 32 + i]) + u16::from(ell[i]) + carry;
        non_canonical[payload_len + 32 + i] = sum as u8;
        carry = sum >> 8;
    }
    let small_order_r = craft(ACTIVE, &valid_raw[..payload_len], Scalar::ZERO, None);

    let other_as_active = {
        // The payload names the active key but the other district's key signs it.
        let bytes = p(ACTIVE, "2020-06-01", "2025-05-31", 1003)
            .to_bytes()
            .expect("encodable");
        let mut msg = CARD_SIGNING_CONTEXT.to_vec();
        msg.extend_from_slice(&bytes);
        let mut out = bytes;
        out.extend_from_slice(&signer(OTHER).sign(&msg));
        text(&out)
    };

    let case = |name, description, qr: String, expected, with_status_list| Case {
        name,
        description,
        qr,
        expected,
        with_status_list,
    };
    vec![
        case("valid", "a current card of the active key, clean in the status list", valid.clone(), "valid", true),
        case(
            "valid_scanner_noise",
            "the valid card with a UTF-8 BOM before it and CR LF after it, as some scanners type it",
            format!("\u{feff}{valid}\r\n"),
            "valid",
            true,
        ),
        case(
            "valid_rotated_key",
            "a card signed in 2019 by the key rotated out on 2019-12-31 (verify_only)",
            card(ROTATED, &p(ROTATED, "2019-06-01", "2024-05-31", 1004)),
            "valid",
            true,
        ),
        case("wrong_prefix", "GC2: instead of GC1:", valid.replacen("GC1:", "GC2:", 1), "malformed", false),
        case("bad_base64", "a character outside base64url in the middle", format!("{}!{}", &valid[..40], &valid[41..]), "malformed", false),
        case("truncated", "the last 10 characters cut off", valid[..valid.len() - 10].to_owned(), "malformed", false),
        case("extra_bytes", "three zero bytes after the signature", text(&extra), "malformed", false),
        case("unknown_version", "version byte 2", text(&version2), "malformed", false),
        case("bad_utf8_name", "the masked name is not UTF-8", text(&bad_utf8), "malformed", false),
        case("flipped_bit_payload", "one bit of the serial flipped", text(&flipped_payload), "bad_signature", true),
        case("flipped_bit_signature", "one bit of the signature flipped", text(&flipped_sig), "bad_signature", true),
        case("non_canonical_signature", "the valid signature with s replaced by s + ℓ", text(&non_canonical), "bad_signature", true),
        case("small_order_r", "a signature with R = identity, made with the active key (cofactorless-valid)", text(&small_order_r), "bad_signature", true),
        case("signature_by_another_key", "names the active key but is signed by another district's key", other_as_active, "bad_signature", true),
        case("unknown_key", "signed by a key that is not in the key set", card(OTHER, &p(OTHER, "2020-06-01", "2025-05-31", 1005)), "unknown_key", true),
        case("retired_key", "signed by the retired key", card(RETIRED, &p(RETIRED, "2019-06-01", "2024-05-31", 1006)), "key_retired", true),
        case("compromised_key", "signed by the compromised key", card(COMPROMISED, &p(COMPROMISED, "2020-01-01", "2024-12-31", 1007)), "key_compromised", true),
        case(
            "key_not_valid_for_card",
            "signed by the rotated-out key with an issue date after it stopped signing",
            card(ROTATED, &p(ROTATED, "2020-03-01", "2025-02-28", 1008)),
            "key_not_valid_for_card",
            true,
        ),
        case("expired", "expired 2020-05-31", card(ACTIVE, &p(ACTIVE, "2019-06-01", "2020-05-31", 1009)), "expired", true),
        case("not_yet_valid", "issued for 2020-07-01", card(ACTIVE, &p(ACTIVE, "2020-07-01", "2025-06-30", 1010)), "not_yet_valid", true),
        case("revoked", "revoked in the status list", card(ACTIVE, &p(ACTIVE, "2020-01-01", "2024-12-31", REVOKED_INDEX)), "revoked", true),
        case("suspended", "suspended in the status list", card(ACTIVE, &p(ACTIVE, "2020-01-01", "2024-12-31", SUSPENDED_INDEX)), "suspended", true),
    ]
}

/// The corpus case file contents.
pub fn case_json(c: &Case) -> String {
    let v = serde_json::json!({
        "description": c.description,
        "qr": c.qr,
        "status_list": if c.with_status_list { Some("status-list.json") } else { None },
        "now": NOW,
        "expected": c.expected,
    });
    format!("{}\n", serde_json::to_string_pretty(&v).expect("json"))
}
