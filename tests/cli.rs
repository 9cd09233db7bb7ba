//! The command line, run as a user would: exit codes and messages that name the problem.

use std::process::{Command, Output};

fn greenchannel(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_greenchannel"))
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The household of the issue (and of `rules eval`'s documentation).
const EXAMPLE: &str = include_str!("rules/example-household.json");

#[test]
fn rules_eval_prints_entitlements_or_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("household.json");
    std::fs::write(&file, EXAMPLE).unwrap();
    let out = greenchannel(
        &["rules", "eval", "--on", "2020-06-15", "household.json"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["family_kind"], "bereaved");
    let sa = json["entitlements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["code"] == "special_assistance" && e["member"] == "m")
        .unwrap();
    assert_eq!(sa["amount_fen"], 61000);

    let out = greenchannel(
        &["rules", "eval", "--on", "2022-02-01", "household.json"],
        dir.path(),
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("2022-02-01") && err.contains("2019-02-01 ..= 2022-01-31"),
        "{err}"
    );

    std::fs::write(&file, EXAMPLE.replace("\"urban\"", "\"suburban\"")).unwrap();
    let out = greenchannel(
        &["rules", "eval", "--on", "2020-06-15", "household.json"],
        dir.path(),
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("`area`") && err.contains("line 1"), "{err}");
}

#[test]
fn import_names_the_line_and_column_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "township,address,hukou_in_district,area,child_status,child_died_on,other_child_since,dibao,low_income,mother_name,mother_id_number\n\
               370306001,1号,yes,urban,deceased,2015-08-10,no,no,no,张秀兰,110105194912310021\n";
    std::fs::write(dir.path().join("h.csv"), csv).unwrap();
    let db = "sqlite:gc.db";
    assert!(greenchannel(&["--database", db, "migrate"], dir.path())
        .status
        .success());
    // The township is unknown in an empty register and the check digit is wrong: both named.
    let out = greenchannel(&["--database", db, "import", "h.csv"], dir.path());
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("h.csv:2: township") && err.contains("h.csv:2: mother_id_number"),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
    let out = greenchannel(&["--database", db, "export"], dir.path());
    assert_eq!(text(&out.stdout).lines().count(), 1, "only the header");
}

#[test]
fn card_verify_is_malformed_for_garbage_and_explains_a_missing_key_file() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        greenchannel(&["keys", "generate", "--keys-dir", "keys"], dir.path())
            .status
            .success()
    );
    let out = greenchannel(
        &["keys", "export", "--keys-dir", "keys", "-o", "keys.json"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = greenchannel(
        &["card", "verify", "--keys", "keys.json", "GC1:not-a-card"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "malformed");
    let out = greenchannel(
        &["card", "verify", "--keys", "nope.json", "GC1:x"],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("nope.json"));
    // A second generate is refused: keys are never overwritten.
    assert!(
        !greenchannel(&["keys", "generate", "--keys-dir", "keys"], dir.path())
            .status
            .success()
    );
}

#[test]
fn audit_check_passes_on_an_empty_log() {
    let dir = tempfile::tempdir().unwrap();
    let out = greenchannel(
        &["--database", "sqlite:gc.db", "audit", "check"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("intact"));
}
