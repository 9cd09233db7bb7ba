//! Issues 1,000 single-card PDFs (sign + QR + PDF with a subset CJK font) and reports the time
//! per card; also `verify` per card, first seen and already seen (the desk's cache of verified texts).
//! Run: `cargo bench --bench card_pdf`.

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use greenchannel::card::keys::CardSigner;
use greenchannel::card::keyset::KeySet;
use greenchannel::card::pdf::{CardFace, CardRenderer};
use greenchannel::card::qr::{issue, CardRequest};
use greenchannel::card::status::CardState;
use greenchannel::card::verify::{verify, StatusSource, Verdict, VerifiedTexts};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::Path;
use std::time::Instant;

const CARDS: usize = 1_000;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
}

fn issue_pdf(renderer: &CardRenderer, signer: &CardSigner, rng: &mut StdRng, i: usize) -> usize {
    let request = CardRequest {
        full_name: "欧阳小兰",
        id_number: "11010519491231002X",
        issued: date("2020-06-01"),
        expires: date("2025-05-31"),
        status_index: i as u32,
    };
    let Ok(card) = issue(signer, &request, rng) else {
        return 0;
    };
    let face = CardFace {
        full_name: request.full_name,
        qr_text: &card.text,
        serial: card.payload.serial,
        issued: card.payload.issued,
        expires: card.payload.expires,
    };
    renderer
        .render_card(&face)
        .map(|pdf| pdf.len())
        .unwrap_or(0)
}

fn card_pdf(c: &mut Criterion) {
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("card-templates/default.toml");
    let renderer = match CardRenderer::load(&template) {
        Ok(r) => r,
        Err(e) => panic!("cannot load the card template: {e}"),
    };
    let signer = CardSigner::from_seed([1; 32], date("2019-01-01"), date("2030-12-31"));
    let mut rng = StdRng::seed_from_u64(1);

    // The issue's figure: 1,000 cards in a row, time per card.
    let start = Instant::now();
    let mut bytes = 0;
    for i in 0..CARDS {
        bytes += issue_pdf(&renderer, &signer, &mut rng, i);
    }
    let elapsed = start.elapsed();
    println!(
        "issued {CARDS} single-card PDFs in {:.2?}: {:.2} ms per card, {} bytes per PDF on average",
        elapsed,
        elapsed.as_secs_f64() * 1000.0 / CARDS as f64,
        bytes / CARDS
    );

    let mut group = c.benchmark_group("card_pdf");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    let mut i = 0;
    group.bench_function("issue_single_card_pdf", |b| {
        b.iter(|| {
            i += 1;
            issue_pdf(&renderer, &signer, &mut rng, i % 131_072)
        })
    });
    group.finish();
}

fn card_verify(c: &mut Criterion) {
    let signer = CardSigner::from_seed([1; 32], date("2019-01-01"), date("2030-12-31"));
    let keys = KeySet::new(vec![signer.entry().clone()]);
    let mut rng = StdRng::seed_from_u64(2);
    let texts: Vec<String> = (0..256u32)
        .filter_map(|i| {
            let request = CardRequest {
                full_name: "张小兰",
                id_number: "11010519491231002X",
                issued: date("2020-06-01"),
                expires: date("2025-05-31"),
                status_index: i,
            };
            issue(&signer, &request, &mut rng)
                .ok()
                .map(|card| card.text)
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let on = date("2021-01-01");
    let mut group = c.benchmark_group("card_verify");
    group.throughput(Throughput::Elements(refs.len() as u64));
    group.sample_size(20);
    group.bench_function("verify_256_one_by_one", |b| {
        b.iter(|| {
            refs.iter()
                .filter(|t| {
                    verify(t, &keys, StatusSource::Lookup(CardState::Valid), on).verdict
                        == Verdict::Valid
                })
                .count()
        })
    });
    group.bench_function("verify_256_cached", |b| {
        // Every text already verified once: a card scanned again at the same hospital.
        let seen = VerifiedTexts::new(keys.clone(), 1024);
        b.iter(|| {
            refs.iter()
                .filter(|t| {
                    seen.check(t).is_ok_and(|c| {
                        c.judge(StatusSource::Lookup(CardState::Valid), on).verdict
                            == Verdict::Valid
                    })
                })
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, card_pdf, card_verify);
criterion_main!(benches);
