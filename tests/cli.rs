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

/// `serve`, stopped by SIGTERM after a scan, leaves one database file behind: the desk's audit
/// log closed its own connection before the pool, so the WAL was checkpointed and removed, and
/// the scan is in the file.
#[tokio::test]
async fn serve_stops_cleanly_with_the_audit_log_checkpointed() {
    let dir = tempfile::tempdir().unwrap();
    let out = greenchannel(
        &["--database", "sqlite:gc.db", "demo", "--households", "3"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tokens = text(&out.stdout);
    let token = |role: &str| {
        tokens
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|w| w.len() == 2 && w[0] == role)
            .map(|w| w[1].to_owned())
            .unwrap_or_else(|| panic!("no {role} token in {tokens}"))
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_greenchannel"))
            .args(["--database", "sqlite:gc.db", "serve", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .env("GREENCHANNEL_KEYS_DIR", dir.path().join("keys"))
            .spawn()
            .expect("serve starts"),
    );
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..200 {
        let up = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await;
        if up.is_ok_and(|r| r.status().is_success()) {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ready, "the server did not come up");
    let office = token("office");
    let issued = client
        .post(format!("{base}/cards/batch"))
        .bearer_auth(&office)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert!(
        issued.status().is_success(),
        "{}",
        issued.text().await.unwrap()
    );
    let cards = json_of(
        client
            .get(format!("{base}/cards?state=active"))
            .bearer_auth(&office),
    )
    .await;
    let qr = cards[0]["qr_text"].as_str().expect("a card").to_owned();
    let answer = json_of(
        client
            .post(format!("{base}/verify"))
            .bearer_auth(token("desk"))
            .json(&serde_json::json!({ "qr": qr })),
    )
    .await;
    assert_eq!(answer["verdict"], "valid", "{answer}");

    let killed = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = server.0.wait().unwrap();
    assert!(status.success(), "serve exited with {status}");
    assert!(dir.path().join("gc.db").exists());
    assert!(
        !dir.path().join("gc.db-wal").exists(),
        "the WAL was left behind: some connection was still open"
    );
    let out = greenchannel(
        &["--database", "sqlite:gc.db", "audit", "check"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("intact: 1 entries"),
        "{}",
        text(&out.stdout)
    );
}

async fn json_of(request: reqwest::RequestBuilder) -> serde_json::Value {
    let response = request.send().await.expect("the server answers");
    response.json().await.expect("a JSON body")
}

/// A server process that is killed if the test ends early.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
