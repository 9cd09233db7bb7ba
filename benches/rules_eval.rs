//! Evaluates 100,000 generated households for one month (target: under 1 s).
//!
//! Run: `cargo bench --bench rules_eval`. Two figures: the month's payments (what a
//! disbursement list needs) and the full evaluation with services and refusals.

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion};
use greenchannel::rules::{evaluate, parse_household, payments, Household, Period, RuleBook};

/// A small deterministic generator, so every run evaluates the same households.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn household(r: &mut Lcg) -> Household {
    let child = match r.next(10) {
        0..=5 => format!(
            r#"{{"status": "deceased", "died_on": "20{:02}-0{}-1{}"}}"#,
            r.next(21),
            1 + r.next(9),
            r.next(10)
        ),
        6..=8 => format!(
            r#"{{"status": "disabled", "disability_grade": {}}}"#,
            1 + r.next(4)
        ),
        _ => r#"{"status": "healthy"}"#.to_string(),
    };
    let pension = |r: &mut Lcg| match r.next(3) {
        0 => "null".to_string(),
        1 => r#"{"basic_monthly_fen": null}"#.to_string(),
        _ => format!(r#"{{"basic_monthly_fen": {}}}"#, 10000 + r.next(20000)),
    };
    let json = format!(
        r#"{{"hukou_in_district": {}, "area": "{}", "child": {child}, "other_child_since": {},
            "dibao": {}, "low_income": {}, "ivf_birth_on": null,
            "members": [
              {{"id": "m", "role": "mother", "born_on": "19{}-0{}-1{}", "resident_pension": {}, "resident_medical_insurance": true,
                "pension_paid_this_year": true, "pension_tier": 50000, "severely_disabled": false}},
              {{"id": "f", "role": "father", "born_on": "19{}-0{}-2{}", "resident_pension": {}, "resident_medical_insurance": {}}}]}}"#,
        r.next(20) != 0,
        if r.next(2) == 0 { "urban" } else { "rural" },
        r.next(20) == 0,
        r.next(5) == 0,
        r.next(5) == 0,
        45 + r.next(30),
        1 + r.next(9),
        r.next(10),
        pension(r),
        43 + r.next(30),
        1 + r.next(9),
        r.next(9),
        pension(r),
        r.next(4) != 0,
    );
    parse_household(&json).expect("generated household parses")
}

fn bench(c: &mut Criterion) {
    let book = RuleBook::shipped().expect("shipped rule set");
    let mut r = Lcg(85);
    let households: Vec<Household> = (0..100_000).map(|_| household(&mut r)).collect();
    let month = Period::Month {
        year: 2020,
        month: 6,
    };
    let on = NaiveDate::from_ymd_opt(2020, 6, 1).expect("date");
    let mut g = c.benchmark_group("100k households");
    g.sample_size(10);
    g.bench_function("payments for one month", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for hh in &households {
                n += payments(&book, hh, month).map(|d| d.len()).unwrap_or(0);
            }
            black_box(n)
        })
    });
    g.bench_function("full evaluation (services and refusals)", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for hh in &households {
                n += evaluate(&book, hh, on)
                    .map(|e| e.entitlements.len())
                    .unwrap_or(0);
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
