//! Imports a generated CSV of 10,000 households into a fresh SQLite database (and PostgreSQL when
//! GREENCHANNEL_TEST_POSTGRES is set) and reports the time. Run: `cargo bench --bench import`.
//! Under `cargo test` it runs once with 50 households, as a smoke test.

#[path = "common/mod.rs"]
mod common;
use common::csv;

use std::time::Instant;

use chrono::NaiveDate;
use greenchannel::db::import::import_households;
use greenchannel::db::Db;
use greenchannel::register::csv_io::Encoding;

async fn run(url: &str, body: &[u8]) -> f64 {
    let db = Db::connect(url, 4).await.expect("database");
    greenchannel::demo::seed_places(&db).await.expect("places");
    let today = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
    let start = Instant::now();
    let report = import_households(&db, body, Encoding::Auto, false, None, None, "bench", today)
        .await
        .expect("import");
    let secs = start.elapsed().as_secs_f64();
    assert!(
        report.errors.is_empty(),
        "{:?}",
        &report.errors[..report.errors.len().min(3)]
    );
    db.close().await;
    secs
}

#[tokio::main]
async fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n = if bench { 10_000 } else { 50 };
    let body = csv(n).into_bytes();
    let rounds = if bench { 3 } else { 1 };
    let mut times = Vec::new();
    for _ in 0..rounds {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite:{}", dir.path().join("bench.db").display());
        times.push(run(&url, &body).await);
    }
    times.sort_by(f64::total_cmp);
    println!("import {n} households, SQLite: median {:.2} s (min {:.2} s) over {rounds} run(s), {:.0} households/s",
        times[times.len() / 2], times[0], n as f64 / times[times.len() / 2]);
    if let Some(pg) = common::ScratchPg::create().await {
        let secs = run(&pg.url, &body).await;
        println!(
            "import {n} households, PostgreSQL: {secs:.2} s, {:.0} households/s",
            n as f64 / secs
        );
        pg.drop().await;
    }
}
