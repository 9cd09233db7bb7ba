//! Makes the month's disbursement list for 100,000 households stored in SQLite (and PostgreSQL
//! when GREENCHANNEL_TEST_POSTGRES is set) and reports the time. Run:
//! `cargo bench --bench disbursement`. Under `cargo test` it runs once with 200 households.

#[path = "common/mod.rs"]
mod common;

use std::time::Instant;

use chrono::NaiveDate;
use greenchannel::db::disbursement::generate;
use greenchannel::db::import::import_households;
use greenchannel::db::Db;
use greenchannel::register::csv_io::Encoding;
use greenchannel::rules::RuleBook;

async fn run(url: &str, body: &[u8], n: u32) {
    let db = Db::connect(url, 4).await.expect("database");
    greenchannel::demo::seed_places(&db).await.expect("places");
    let today = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
    let report = import_households(&db, body, Encoding::Auto, false, None, None, "bench", today)
        .await
        .expect("import");
    assert!(
        report.errors.is_empty(),
        "{:?}",
        &report.errors[..report.errors.len().min(3)]
    );
    let book = std::sync::Arc::new(RuleBook::shipped().expect("rules"));
    let mut times = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let list = generate(&db, book.clone(), "2020-06", None)
            .await
            .expect("list");
        times.push(start.elapsed().as_secs_f64());
        assert!(list.total_fen > 0);
        if times.len() == 1 {
            println!(
                "  {} rows, total {} fen, {} needing data",
                list.rows.len(),
                list.total_fen,
                list.needs_data
            );
        }
    }
    times.sort_by(f64::total_cmp);
    let backend = if url.starts_with("sqlite") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    println!("disbursement list of 2020-06 for {n} households, {backend}: median {:.2} s (min {:.2} s) over 3 runs", times[1], times[0]);
    db.close().await;
}

#[tokio::main]
async fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n = if bench { 100_000 } else { 200 };
    let body = common::csv(n).into_bytes();
    let dir = tempfile::tempdir().expect("temp dir");
    run(
        &format!("sqlite:{}", dir.path().join("bench.db").display()),
        &body,
        n,
    )
    .await;
    if !bench {
        return;
    }
    if let Some(pg) = common::ScratchPg::create().await {
        run(&pg.url, &body, n).await;
        pg.drop().await;
    }
}
