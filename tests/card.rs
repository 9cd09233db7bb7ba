//! Card tests: the QR corpus in `tests/card/corpus/`, test vectors, key and status-list
//! behaviour, template refusals and the PDF → image → QR round trip.

#[path = "card/generate.rs"]
mod generate;

use chrono::{DateTime, Duration, Utc};
use generate::{date, key_set, now, signer, ACTIVE, OTHER, ROTATED};
use greenchannel::card::keys::{CardSigner, KeyStore};
use greenchannel::card::keyset::KeySet;
use greenchannel::card::payload::{CardPayload, CardSerial, IdLastFour, MaskedName};
use greenchannel::card::pdf::{CardFace, CardRenderer};
use greenchannel::card::qr::{decode_text, issue, qr_code, sign_payload, CardRequest};
use greenchannel::card::status::{CardState, SignedStatusList, StatusList, StatusListError};
use greenchannel::card::template::Template;
use greenchannel::card::verify::{cli_verify, verify, StatusSource, Verdict, VerifiedTexts};
use greenchannel::card::CardError;
use rand::rngs::{OsRng, StdRng};
use rand::SeedableRng;
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/card")
}

fn template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("card-templates/default.toml")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------- corpus

#[test]
fn corpus_files_match_the_generator() {
    let dir = data_dir();
    let mut files = vec![
        (dir.join("keys.json"), format!("{}\n", key_set().to_json())),
        (
            dir.join("status-list.json"),
            format!("{}\n", generate::status_list_json()),
        ),
    ];
    for case in generate::corpus() {
        files.push((
            dir.join("corpus").join(format!("{}.json", case.name)),
            generate::case_json(&case),
        ));
    }
    if std::env::var_os("GC_REGENERATE_CORPUS").is_some() {
        for (path, content) in &files {
            std::fs::write(path, content).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
    for (path, content) in &files {
        if path.ends_with("status-list.json") {
            // The gzip bytes (and so the signature) may differ between deflate backends;
            // what must match is the signed content.
            let decoded = |json: &str| {
                let list = SignedStatusList::from_json(json)
                    .and_then(|l| l.verify(&key_set(), now()))
                    .expect("status list verifies");
                (list.list, list.key_id, list.issued_at, list.valid_until)
            };
            assert_eq!(decoded(&read(path)), decoded(content), "{}", path.display());
            continue;
        }
        assert_eq!(
            &read(path),
            content,
            "{} differs from the generator; see tests/card/README.md",
            path.display()
        );
    }
}

#[test]
fn every_corpus_case_gets_its_verdict() {
    let dir = data_dir();
    let keys = read(&dir.join("keys.json"));
    let mut seen = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir.join("corpus"))
        .expect("corpus dir")
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let case: serde_json::Value =
            serde_json::from_str(&read(&entry.path())).expect("case json");
        let list = case["status_list"].as_str().map(|f| read(&dir.join(f)));
        let at = DateTime::parse_from_rfc3339(case["now"].as_str().expect("now"))
            .expect("rfc3339")
            .with_timezone(&Utc);
        let qr = case["qr"].as_str().expect("qr");
        let (json, code) = cli_verify(qr, &keys, list.as_deref(), at, at.date_naive());
        let expected = case["expected"].as_str().expect("expected");
        assert_eq!(
            json["verdict"],
            expected,
            "{}: {json}",
            entry.path().display()
        );
        assert_eq!(
            code == 0,
            expected == "valid",
            "{}: exit code {code}",
            entry.path().display()
        );
        // Holder fields appear exactly when the signature was good.
        let sig_good = !matches!(expected, "malformed" | "bad_signature" | "unknown_key");
        assert_eq!(
            json.get("card").is_some(),
            sig_good,
            "{}: {json}",
            entry.path().display()
        );
        seen += 1;
    }
    assert!(seen >= 20, "only {seen} corpus cases found");
}

#[test]
fn cached_check_gives_the_reference_verdicts_on_the_corpus() {
    let keys = key_set();
    let list = SignedStatusList::from_json(&generate::status_list_json())
        .and_then(|l| l.verify(&keys, now()))
        .expect("fixture list verifies");
    let corpus = generate::corpus();
    let on = now().date_naive();
    // A cache smaller than the corpus, so entries also fall out and come back.
    let seen = VerifiedTexts::new(keys.clone(), 4);
    for round in ["cold", "warm", "again"] {
        for case in &corpus {
            let reference = verify(&case.qr, &keys, StatusSource::List(&list), on);
            let cached = match seen.check(&case.qr) {
                Ok(card) => card.judge(StatusSource::List(&list), on),
                Err(v) => *v,
            };
            assert_eq!(reference, cached, "{round}: {}", case.name);
        }
    }
    assert!(seen.len() <= 8, "bounded: {} texts cached", seen.len());
}

/// Texts whose nonce `R = rB + T` carries a torsion component `T`, which only a key holder can
/// make: `verify_strict` refuses each of them, and so must the desk's check, however they are
/// scanned — in pairs whose torsion terms would cancel in a batch equation, the same text twice,
/// mixed with good cards.
#[test]
fn crafted_torsion_nonces_are_refused_however_they_are_scanned() {
    let keys = key_set();
    let on = now().date_naive();
    let mut rng = StdRng::seed_from_u64(9);
    let mut card = |r: u64, torsion: Option<[u8; 32]>| {
        let p = generate::payload(ACTIVE, &mut rng, "2020-06-01", "2025-05-31", 7);
        let bytes = p.to_bytes().expect("encodable");
        let r = curve25519_dalek::scalar::Scalar::from(r);
        format!(
            "GC1:{}",
            base64_url(&generate::craft(ACTIVE, &bytes, r, torsion))
        )
    };
    let good: Vec<String> = (1000..1008).map(|r| card(r, None)).collect();
    for (order, t) in [
        (2, generate::TORSION2),
        (4, generate::TORSION4),
        (8, generate::TORSION8),
    ] {
        for r in 1..=16u64 {
            let a = card(r, Some(t));
            let b = card(r + 100, Some(t));
            for bad in [&a, &b] {
                assert_eq!(
                    verify(bad, &keys, StatusSource::NotChecked, on).verdict,
                    Verdict::BadSignature,
                    "order {order}, nonce {r}: the reference refuses it"
                );
            }
            // A pair, the same card twice, and the pair again, among good cards; then the
            // same scans with the good cards already cached.
            let mut scans: Vec<&str> = good.iter().map(String::as_str).collect();
            for (i, bad) in [&a, &b, &a, &a, &b].into_iter().enumerate() {
                scans.insert(i * 2 + 1, bad);
            }
            let seen = VerifiedTexts::new(keys.clone(), 64);
            for round in 0..2 {
                for text in &scans {
                    let expected = if *text == a || *text == b {
                        Verdict::BadSignature
                    } else {
                        Verdict::Valid
                    };
                    let got = match seen.check(text) {
                        Ok(card) => card.judge(StatusSource::NotChecked, on).verdict,
                        Err(v) => v.verdict,
                    };
                    assert_eq!(got, expected, "order {order}, nonce {r}, round {round}");
                }
            }
            assert_eq!(seen.len(), good.len(), "a bad text is never cached");
        }
    }
}

/// The desk's strict check and `ed25519_dalek`'s `verify_strict` agree on every input: good
/// signatures, crafted torsion nonces, small-order and non-canonical `R` encodings, `s ≥ ℓ`,
/// and random bit flips in the signature and the message.
#[test]
fn the_strict_check_agrees_with_verify_strict_on_every_input() {
    use ed25519_dalek::{Signature, Signer as _, SigningKey};
    use greenchannel::card::verify::strict::StrictKey;
    use rand::{Rng as _, RngCore as _};
    let mut rng = StdRng::seed_from_u64(20261201);
    let signing = SigningKey::from_bytes(&ACTIVE);
    let key = signing.verifying_key();
    let strict = StrictKey::new(&key);
    let agree = |msg: &[u8], sig: &[u8; 64]| {
        let reference = key.verify_strict(msg, &Signature::from_bytes(sig)).is_ok();
        assert_eq!(
            strict.verify(msg, sig),
            reference,
            "msg {} sig {}",
            hex::encode(msg),
            hex::encode(sig)
        );
        reference
    };
    // R = 0·B, the identity (small order), with s = k·a: the equation holds, so only the
    // small-order check refuses it — a key holder's crafted signature.
    for r_torsion in [None, Some(generate::TORSION2), Some(generate::TORSION4)] {
        let crafted = generate::craft(
            ACTIVE,
            b"payload",
            curve25519_dalek::scalar::Scalar::ZERO,
            r_torsion,
        );
        let mut msg = greenchannel::card::qr::CARD_SIGNING_CONTEXT.to_vec();
        msg.extend_from_slice(b"payload");
        let sig: [u8; 64] = crafted[crafted.len() - 64..].try_into().unwrap();
        assert!(!agree(&msg, &sig), "a small-order R is refused");
    }
    let mut accepted = 0;
    let small_order: Vec<[u8; 32]> = vec![
        [0; 32],
        generate::TORSION2,
        generate::TORSION4,
        generate::TORSION8,
        {
            let mut one = [0u8; 32];
            one[0] = 1;
            one
        },
    ];
    for i in 0..4000u32 {
        let mut msg = vec![0u8; 40 + (i as usize % 80)];
        rng.fill_bytes(&mut msg);
        let mut sig = signing.sign(&msg).to_bytes();
        match i % 8 {
            0 => {}
            1 => sig[rng.gen_range(0..64)] ^= 1 << rng.gen_range(0..8),
            2 => {
                let at = rng.gen_range(0..msg.len());
                msg[at] ^= 1 << rng.gen_range(0..8);
            }
            3 => sig[..32].copy_from_slice(&small_order[i as usize % small_order.len()]),
            4 => {
                // s + ℓ: the same scalar, not canonical.
                let s = curve25519_dalek::scalar::Scalar::from_canonical_bytes(
                    sig[32..].try_into().unwrap(),
                )
                .unwrap();
                let ell_plus = (num_add_ell(s.to_bytes())).unwrap_or(sig[32..].try_into().unwrap());
                sig[32..].copy_from_slice(&ell_plus);
            }
            5 => {
                // A non-canonical R: y + p when that still fits, or the sign bit flipped.
                sig[31] ^= 0x80;
            }
            6 => rng.fill_bytes(&mut sig),
            _ => {
                // A crafted nonce with a torsion component over this message.
                let t =
                    [generate::TORSION2, generate::TORSION4, generate::TORSION8][i as usize % 3];
                let mut payload = msg.clone();
                payload.truncate(40);
                let crafted = generate::craft(
                    ACTIVE,
                    &payload,
                    curve25519_dalek::scalar::Scalar::from(u64::from(i) + 1),
                    Some(t),
                );
                let n = crafted.len();
                let mut full = greenchannel::card::qr::CARD_SIGNING_CONTEXT.to_vec();
                full.extend_from_slice(&crafted[..n - 64]);
                msg = full;
                sig.copy_from_slice(&crafted[n - 64..]);
            }
        }
        if agree(&msg, &sig) {
            accepted += 1;
        }
    }
    // Both kinds of answer were exercised.
    assert!((400..4000).contains(&accepted), "{accepted} accepted");
}

/// `s + ℓ` as 32 little-endian bytes, when it fits.
fn num_add_ell(s: [u8; 32]) -> Option<[u8; 32]> {
    const ELL: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(s[i]) + u16::from(ELL[i]) + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    (carry == 0).then_some(out)
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

// ---------------------------------------------------------------- format

#[test]
fn qr_text_test_vector() {
    let signer = CardSigner::from_seed([7; 32], date("2019-01-01"), date("2030-12-31"));
    let payload = CardPayload {
        key_id: signer.key_id(),
        serial: CardSerial([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
        masked_name: MaskedName::mask("张小兰").expect("name"),
        id_last_four: IdLastFour::of_id_number("11010519491231002X").expect("id"),
        issued: date("2020-06-01"),
        expires: date("2025-05-31"),
        status_index: 4242,
    };
    let text = sign_payload(&signer, &payload).expect("sign");
    assert_eq!(signer.key_id().to_hex(), KEY_ID_7);
    assert_eq!(text, VECTOR_7);
    let decoded = decode_text(&text).expect("decodes");
    assert_eq!(decoded.payload, payload);
    assert_eq!(hex::encode(&decoded.message[21..]), PAYLOAD_HEX_7);
}

const KEY_ID_7: &str = "fe812c12f3ab4ce6";
const VECTOR_7: &str = "GC1:Af6BLBLzq0zmAAECAwQFBgcICQoLHSEkQgAAEJIwMDJYB-W8oCrlhbBuDzLmSD54j0h7BRk4FXpxfw5Ok8a4de_mjWIgAu0c3CCt46CCeDqvs6EGZWQuNx3sL5IJV4K9_e7PUCFPEwQE";
/// Version 01, key id, serial, issued 0x1d21 (7457 days = 2020-06-01), expires 0x2442
/// (2025-05-31), index 0x00001092 (4242), "002X", name length 7, "张*兰".
const PAYLOAD_HEX_7: &str =
    "01fe812c12f3ab4ce6000102030405060708090a0b1d212442000010923030325807e5bca02ae585b0";

#[test]
fn longest_plausible_name_stays_within_qr_version_10_at_m() {
    let signer = signer(ACTIVE);
    for name in ["欧阳小兰花", "阿依古丽·买买提", "𠀀𠀁𠀂𠀃𠀄"] {
        let request = CardRequest {
            full_name: name,
            id_number: "11010519491231002X",
            issued: date("2020-06-01"),
            expires: date("2025-05-31"),
            status_index: u32::MAX % 131_072,
        };
        let card = issue(&signer, &request, &mut OsRng).expect("issue");
        let code = qr_code(&card.text).expect("fits");
        assert!(
            matches!(code.version(), qrcode::Version::Normal(v) if v <= 10),
            "{name}: {:?}",
            code.version()
        );
    }
}

#[test]
fn decoding_never_panics_on_arbitrary_input() {
    let valid = generate::corpus().remove(0).qr;
    let keys = key_set();
    let on = now().date_naive();
    let mut inputs: Vec<String> = vec![
        String::new(),
        "GC1:".into(),
        "GC1:=".into(),
        "\u{feff}".into(),
        "GC1:AAAA".into(),
    ];
    for cut in 0..valid.len() {
        inputs.push(valid[..cut].to_owned());
    }
    let mut rng = StdRng::seed_from_u64(1);
    for _ in 0..2000 {
        let mut b = valid.clone().into_bytes();
        let i = rand::Rng::gen_range(&mut rng, 4..b.len());
        b[i] = rand::Rng::gen_range(&mut rng, b'-'..=b'z');
        inputs.push(String::from_utf8_lossy(&b).into_owned());
    }
    for input in &inputs {
        let v = verify(input, &keys, StatusSource::NotChecked, on);
        assert!(
            v.verdict != Verdict::Valid || input.trim() == valid,
            "{input:?} accepted"
        );
    }
}

// ---------------------------------------------------------------- keys and lifecycle

#[test]
fn issued_card_verifies_then_is_revoked_by_a_later_list_and_rotation_keeps_old_cards() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = KeyStore::open(dir.path().join("keys"));
    let t0 = now();
    store.generate(&mut OsRng, t0, 3650).expect("generate");
    let first = store.signer().expect("signer");
    let request = CardRequest {
        full_name: "张小兰",
        id_number: "11010519491231002X",
        issued: t0.date_naive(),
        expires: date("2025-05-31"),
        status_index: 77,
    };
    let card = issue(&first, &request, &mut OsRng).expect("issue");
    let keys_json = store.key_set().expect("set").to_json();
    let clean = StatusList::default()
        .sign(&first, t0, t0 + Duration::days(7))
        .to_json();
    let (json, code) = cli_verify(&card.text, &keys_json, Some(&clean), t0, t0.date_naive());
    assert_eq!(
        (json["verdict"].as_str(), code),
        (Some("valid"), 0),
        "{json}"
    );
    assert_eq!(json["card"]["masked_name"], "张*兰");
    assert_eq!(json["card"]["id_last_four"], "002X");

    let t1 = t0 + Duration::hours(1);
    let revoked = StatusList::from_entries([(77, CardState::Revoked)])
        .expect("list")
        .sign(&first, t1, t1 + Duration::days(7));
    let (json, code) = cli_verify(
        &card.text,
        &keys_json,
        Some(&revoked.to_json()),
        t1,
        t1.date_naive(),
    );
    assert_eq!(
        (json["verdict"].as_str(), code),
        (Some("revoked"), 1),
        "{json}"
    );

    // Rotation: the old key's card still verifies; compromise makes it fail.
    store.rotate(&mut OsRng, t1, 3650).expect("rotate");
    let keys_json = store.key_set().expect("set").to_json();
    let (json, _) = cli_verify(&card.text, &keys_json, None, t1, t1.date_naive());
    assert_eq!(json["verdict"], "valid", "{json}");
    assert_eq!(json["status_check"], "not_checked");
    store.mark_compromised(&first.key_id()).expect("compromise");
    let keys_json = store.key_set().expect("set").to_json();
    let (json, code) = cli_verify(&card.text, &keys_json, None, t1, t1.date_naive());
    assert_eq!(
        (json["verdict"].as_str(), code),
        (Some("key_compromised"), 1),
        "{json}"
    );
}

#[test]
fn secret_key_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = KeyStore::open(dir.path());
    let a = store.generate(&mut OsRng, now(), 365).expect("generate");
    let b = store.rotate(&mut OsRng, now(), 365).expect("rotate");
    for id in [a.key_id, b.key_id] {
        let mode = std::fs::metadata(store.secret_path(&id))
            .expect("secret")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{id}");
    }
}

#[test]
fn key_set_refuses_a_mismatched_id_and_a_small_order_key() {
    let mut set = key_set();
    set.keys[0].key_id = set.keys[1].key_id;
    assert!(KeySet::from_json(&set.to_json()).is_err());
    let mut set = key_set();
    set.keys[0].public_key = base64_url(
        &[1u8]
            .iter()
            .chain([0u8; 31].iter())
            .copied()
            .collect::<Vec<_>>(),
    );
    let err = KeySet::from_json(&set.to_json()).expect_err("identity point refused");
    assert!(err.to_string().contains("prime-order"), "{err}");
    assert!(KeySet::from_json("{\"keys\": 3}").is_err());
}

// ---------------------------------------------------------------- status list

fn fixture_list() -> SignedStatusList {
    SignedStatusList::from_json(&generate::status_list_json()).expect("fixture parses")
}

#[test]
fn status_list_from_another_key_set_is_unknown_key() {
    let other = KeySet::new(vec![signer(OTHER).entry().clone()]);
    assert!(matches!(
        fixture_list().verify(&other, now()),
        Err(StatusListError::UnknownKey(_))
    ));
    let (json, code) = cli_verify(
        &generate::corpus()[0].qr,
        &key_set().to_json(),
        Some(&fixture_list().to_json()),
        now(),
        now().date_naive(),
    );
    assert_eq!((json["verdict"].as_str(), code), (Some("valid"), 0));
    // The same card with a list made by a key outside the set is not trusted.
    let foreign = StatusList::default()
        .sign(&signer(OTHER), now(), now() + Duration::days(1))
        .to_json();
    let (json, code) = cli_verify(
        &generate::corpus()[0].qr,
        &key_set().to_json(),
        Some(&foreign),
        now(),
        now().date_naive(),
    );
    assert_eq!(
        (json["verdict"].as_str(), code),
        (Some("status_list_unknown_key"), 1),
        "{json}"
    );
}

#[test]
fn tampered_status_list_is_bad_signature() {
    let mut list = fixture_list();
    let clean = StatusList::default().sign(&signer(ACTIVE), now(), now() + Duration::days(1));
    list.encoded_list = clean.encoded_list; // un-revoke everything
    assert_eq!(
        list.verify(&key_set(), now()),
        Err(StatusListError::BadSignature)
    );
    let mut list = fixture_list();
    list.valid_until = "2099-01-01T00:00:00Z".into(); // extend its life
    assert_eq!(
        list.verify(&key_set(), now()),
        Err(StatusListError::BadSignature)
    );
    let (json, _) = cli_verify(
        &generate::corpus()[0].qr,
        &key_set().to_json(),
        Some(&list.to_json()),
        now(),
        now().date_naive(),
    );
    assert_eq!(json["verdict"], "status_list_bad_signature");
}

#[test]
fn stale_status_list_is_reported_but_its_revocations_still_count() {
    let later = now() + Duration::days(30);
    let err = fixture_list().verify(&key_set(), later).expect_err("stale");
    assert!(matches!(err, StatusListError::Stale { .. }), "{err}");
    let corpus = generate::corpus();
    let by_name = |n: &str| {
        corpus
            .iter()
            .find(|c| c.name == n)
            .map(|c| c.qr.clone())
            .expect("case")
    };
    let on = later.date_naive();
    let keys = key_set();
    assert_eq!(
        verify(&by_name("valid"), &keys, StatusSource::Untrusted(&err), on).verdict,
        Verdict::StatusListStale
    );
    assert_eq!(
        verify(
            &by_name("revoked"),
            &keys,
            StatusSource::Untrusted(&err),
            on
        )
        .verdict,
        Verdict::Revoked
    );
    assert_eq!(
        verify(
            &by_name("suspended"),
            &keys,
            StatusSource::Untrusted(&err),
            on
        )
        .verdict,
        Verdict::StatusListStale
    );
}

#[test]
fn status_list_from_a_compromised_key_or_malformed_is_untrusted() {
    let list = StatusList::default().sign(
        &signer(generate::COMPROMISED),
        now(),
        now() + Duration::days(1),
    );
    assert!(matches!(
        list.verify(&key_set(), now()),
        Err(StatusListError::KeyNotTrusted(..))
    ));
    assert!(SignedStatusList::from_json("{}").is_err());
    assert!(SignedStatusList::from_json("not json").is_err());
}

#[test]
fn database_lookup_is_the_online_status_source() {
    let keys = key_set();
    let valid = &generate::corpus()[0].qr;
    let on = now().date_naive();
    assert_eq!(
        verify(valid, &keys, StatusSource::Lookup(CardState::Revoked), on).verdict,
        Verdict::Revoked
    );
    assert_eq!(
        verify(valid, &keys, StatusSource::Lookup(CardState::Suspended), on).verdict,
        Verdict::Suspended
    );
    let v = verify(valid, &keys, StatusSource::Lookup(CardState::Valid), on);
    assert_eq!(v.verdict, Verdict::Valid);
    assert_eq!(
        serde_json::to_value(&v).expect("json")["status_check"],
        "database"
    );
}

#[test]
fn rotated_key_cannot_sign_after_rotation_date() {
    let keys = key_set();
    let mut rng = StdRng::seed_from_u64(3);
    let p = generate::payload(ROTATED, &mut rng, "2020-02-01", "2021-01-31", 5);
    let text = sign_payload(&signer(ROTATED), &p).expect("sign");
    assert_eq!(
        verify(&text, &keys, StatusSource::NotChecked, now().date_naive()).verdict,
        Verdict::KeyNotValidForCard
    );
}

// ---------------------------------------------------------------- templates and PDF

fn default_template_text() -> String {
    read(&template_path())
}

fn template_error(text: &str) -> String {
    match Template::parse(text, Path::new(env!("CARGO_MANIFEST_DIR"))) {
        Ok(_) => panic!("template accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_templates_are_refused_naming_the_field() {
    let good = default_template_text();
    let unknown = good.replacen("[office]\n", "[office]\ncolour = \"red\"\n", 1);
    assert!(
        template_error(&unknown).contains("colour"),
        "{}",
        template_error(&unknown)
    );
    let missing = good.replacen("hotline = \"0533-6412345\"\n", "", 1);
    assert!(
        template_error(&missing).contains("hotline"),
        "{}",
        template_error(&missing)
    );
    let off_card = good.replacen("qr = { x = 57.0", "qr = { x = 70.0", 1);
    assert!(
        template_error(&off_card).contains("front.qr.x"),
        "{}",
        template_error(&off_card)
    );
    let off_card_text = good.replacen("x = 4.0, y = 8.5", "x = 4.0, y = 60.0", 1);
    assert!(
        template_error(&off_card_text).contains("front.title"),
        "{}",
        template_error(&off_card_text)
    );
    let no_font = good.replacen(
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "/nonexistent/font.ttc",
        1,
    );
    assert!(
        template_error(&no_font).contains("font.paths"),
        "{}",
        template_error(&no_font)
    );
    assert!(
        template_error("not = [toml").contains("TOML"),
        "{}",
        template_error("not = [toml")
    );
}

fn renderer() -> CardRenderer {
    CardRenderer::load(&template_path())
        .unwrap_or_else(|e| panic!("{e} (apt-get install fonts-wqy-microhei)"))
}

#[test]
fn template_text_running_off_the_card_is_refused_at_load() {
    let text = default_template_text().replacen(
        "hotline = \"0533-6412345\"",
        "hotline = \"0533-6412345 转 1234 或 0000-87654321 转 5678 或 0000-11112222\"",
        1,
    );
    let t = Template::parse(&text, Path::new(".")).expect("parses");
    let err = CardRenderer::new(t).expect_err("too wide");
    assert!(err.to_string().contains("back.hotline"), "{err}");
}

#[test]
fn template_text_without_a_glyph_is_refused() {
    let text = default_template_text().replacen("周村区卫生健康局", "周村区卫生健康局\u{20000}", 1);
    let t = Template::parse(&text, Path::new(".")).expect("parses");
    let err = CardRenderer::new(t).expect_err("missing glyph");
    assert!(
        err.to_string().contains("office.name") && err.to_string().contains("U+20000"),
        "{err}"
    );
}

#[test]
fn name_with_a_character_the_font_lacks_is_refused_naming_it() {
    let r = renderer();
    let face = CardFace {
        full_name: "张\u{20000}兰",
        qr_text: &generate::corpus()[0].qr,
        serial: CardSerial([1; 12]),
        issued: date("2020-06-01"),
        expires: date("2025-05-31"),
    };
    match r.render_card(&face) {
        Err(CardError::MissingGlyph { ch, field, .. }) => {
            assert_eq!(ch, '\u{20000}');
            assert_eq!(field, "holder name");
        }
        other => panic!("expected a missing-glyph error, got {other:?}"),
    }
}

fn pdftoppm(pdf: &Path, out_prefix: &Path, dpi: u32) -> PathBuf {
    let status = std::process::Command::new("pdftoppm")
        .args([
            "-r",
            &dpi.to_string(),
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            "-png",
        ])
        .arg(pdf)
        .arg(out_prefix)
        .status();
    match status {
        Ok(s) if s.success() => out_prefix.with_extension("png"),
        Ok(s) => panic!("pdftoppm failed ({s}) on {}", pdf.display()),
        Err(e) => panic!("pdftoppm not runnable ({e}): install Debian package poppler-utils"),
    }
}

fn decode_qr_png(png: &Path) -> Vec<String> {
    let img = image::open(png).expect("png").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|g| g.decode().ok().map(|(_, s)| s))
        .collect()
}

/// Decodes the QR of each of the ten card slots of a rendered A4 front page.
fn decode_sheet_slots(png: &Path, template: &Template) -> Vec<String> {
    use greenchannel::card::template::{A4_WIDTH_MM, CARD_HEIGHT_MM, CARD_WIDTH_MM};
    let img = image::open(png).expect("png").to_luma8();
    let px_per_mm = img.width() as f32 / A4_WIDTH_MM;
    let s = &template.sheet;
    let mut out = Vec::new();
    for row in 0..5 {
        for col in 0..2 {
            let x = s.margin_left + col as f32 * (CARD_WIDTH_MM + s.gap_x);
            let y = s.margin_top + row as f32 * (CARD_HEIGHT_MM + s.gap_y);
            let crop = image::imageops::crop_imm(
                &img,
                (x * px_per_mm) as u32,
                (y * px_per_mm) as u32,
                (CARD_WIDTH_MM * px_per_mm) as u32,
                (CARD_HEIGHT_MM * px_per_mm) as u32,
            )
            .to_image();
            let mut prepared = rqrr::PreparedImage::prepare(crop);
            out.extend(
                prepared
                    .detect_grids()
                    .into_iter()
                    .filter_map(|g| g.decode().ok().map(|(_, s)| s)),
            );
        }
    }
    out
}

#[test]
fn card_pdf_is_small_and_its_qr_decodes_to_the_signed_text() {
    let mut rng = StdRng::seed_from_u64(42);
    let card = issue(
        &signer(ACTIVE),
        &CardRequest {
            full_name: "欧阳小兰",
            id_number: "11010519491231002X",
            issued: date("2020-06-01"),
            expires: date("2025-05-31"),
            status_index: 31337,
        },
        &mut rng,
    )
    .expect("issue");
    let face = CardFace {
        full_name: "欧阳小兰",
        qr_text: &card.text,
        serial: card.payload.serial,
        issued: card.payload.issued,
        expires: card.payload.expires,
    };
    let pdf = renderer().render_card(&face).expect("render");
    assert!(pdf.len() < 40 * 1024, "card PDF is {} bytes", pdf.len());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("card.pdf");
    std::fs::write(&path, &pdf).expect("write");
    let png = pdftoppm(&path, &dir.path().join("front"), 600);
    assert_eq!(decode_qr_png(&png), vec![card.text.clone()]);
}

#[test]
fn a4_sheet_holds_ten_cards_whose_qrs_all_decode() {
    let signer = signer(ACTIVE);
    let mut rng = StdRng::seed_from_u64(43);
    let names = [
        "张三",
        "李小四",
        "王五六",
        "赵*",
        "钱七",
        "孙八",
        "周九",
        "吴十",
        "郑十一",
        "冯十二",
        "陈十三",
    ];
    let names: Vec<&str> = names.iter().copied().filter(|n| !n.contains('*')).collect();
    let cards: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let req = CardRequest {
                full_name: n,
                id_number: "110105194912310021",
                issued: date("2020-06-01"),
                expires: date("2025-05-31"),
                status_index: i as u32,
            };
            issue(&signer, &req, &mut rng).expect("issue")
        })
        .collect();
    let faces: Vec<CardFace<'_>> = cards
        .iter()
        .zip(&names)
        .map(|(c, n)| CardFace {
            full_name: n,
            qr_text: &c.text,
            serial: c.payload.serial,
            issued: c.payload.issued,
            expires: c.payload.expires,
        })
        .collect();
    let pdf = renderer().render_sheet(&faces).expect("render");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sheet.pdf");
    std::fs::write(&path, &pdf).expect("write");
    let png = pdftoppm(&path, &dir.path().join("sheet"), 300);
    let mut found = decode_sheet_slots(&png, renderer().template());
    found.sort();
    let mut expected: Vec<String> = cards.iter().take(10).map(|c| c.text.clone()).collect();
    expected.sort();
    assert_eq!(found, expected, "the first sheet holds the first ten cards");
}
