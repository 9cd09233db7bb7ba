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

/// Asserts that a command succeeded and said `needle` on standard output.
#[track_caller]
fn succeeds_saying(out: &Output, needle: &str) {
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains(needle), "{}", text(&out.stdout));
}

/// A fresh database for a command-line test: an SQLite file in the test's folder, or a
/// throw-away database on the PostgreSQL test server (dropped at the end).
struct TestDb {
    url: String,
    postgres: Option<(String, String)>,
}

impl TestDb {
    fn is_sqlite(&self) -> bool {
        self.postgres.is_none()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.postgres.take() {
            let _ = std::thread::spawn(move || {
                runtime().block_on(async {
                    let pool = sqlx::PgPool::connect(&admin).await.ok()?;
                    sqlx::query(&format!("drop database if exists {name} with (force)"))
                        .execute(&pool)
                        .await
                        .ok()
                })
            })
            .join();
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// SQLite, and PostgreSQL unless the run opted out with `GREENCHANNEL_TEST_POSTGRES=off`
/// (said loudly); an unreachable server fails the test.
fn each_database() -> Vec<TestDb> {
    let mut dbs = vec![TestDb {
        url: "sqlite:gc.db".into(),
        postgres: None,
    }];
    if let Some(pg) = postgres() {
        dbs.push(pg);
    }
    dbs
}

fn postgres() -> Option<TestDb> {
    let admin = match std::env::var("GREENCHANNEL_TEST_POSTGRES") {
        Ok(v) if v.eq_ignore_ascii_case("off") => {
            eprintln!("\n*** SKIPPED: GREENCHANNEL_TEST_POSTGRES=off, so the PostgreSQL half did NOT run ***\n");
            return None;
        }
        Ok(v) if !v.trim().is_empty() => v,
        _ => "postgres://postgres@127.0.0.1:5432/test".to_owned(),
    };
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "gc_cli_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    let created = {
        let (admin, name) = (admin.clone(), name.clone());
        std::thread::spawn(move || {
            runtime().block_on(async {
                let pool = sqlx::PgPool::connect(&admin).await?;
                sqlx::query(&format!("create database {name}"))
                    .execute(&pool)
                    .await
                    .map(|_| ())
            })
        })
        .join()
        .expect("thread")
    };
    if let Err(e) = created {
        panic!("PostgreSQL at {admin} does not answer ({e}); start it, or set GREENCHANNEL_TEST_POSTGRES=off");
    }
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(a, _)| a);
    Some(TestDb {
        url: format!("{base}/{name}"),
        postgres: Some((admin, name)),
    })
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
    for db in each_database() {
        import_names_the_line_and_column_and_writes_nothing_on(&db.url);
    }
}

fn import_names_the_line_and_column_and_writes_nothing_on(db: &str) {
    let dir = tempfile::tempdir().unwrap();
    let csv = "township,address,hukou_in_district,area,child_status,child_died_on,other_child_since,dibao,low_income,mother_name,mother_id_number\n\
               370306001,1号,yes,urban,deceased,2015-08-10,no,no,no,张秀兰,110105194912310021\n";
    std::fs::write(dir.path().join("h.csv"), csv).unwrap();
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
    for db in each_database() {
        let dir = tempfile::tempdir().unwrap();
        let out = greenchannel(&["--database", &db.url, "audit", "check"], dir.path());
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("intact"));
    }
}

/// Fills `db` with the demo district; returns its token per role.
fn demo(dir: &std::path::Path, db: &str) -> impl Fn(&str) -> String {
    let out = greenchannel(&["--database", db, "demo", "--households", "3"], dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tokens = text(&out.stdout);
    move |role: &str| {
        tokens
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            // role, name, console password, token
            .find(|w| w.len() == 4 && w[0] == role)
            .map(|w| w[3].to_owned())
            .unwrap_or_else(|| panic!("no {role} token in {tokens}"))
    }
}

/// Starts `serve` on `db` with the key folder `keys` and waits until it is ready; returns the
/// process and its API base URL.
async fn start(dir: &std::path::Path, db: &str, keys: &str) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_greenchannel"))
            .args(["--database", db, "serve", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .current_dir(dir)
            .env("RUST_LOG", "warn")
            .env("GREENCHANNEL_KEYS_DIR", dir.join(keys))
            .spawn()
            .expect("serve starts"),
    );
    let client = reqwest::Client::new();
    for _ in 0..400 {
        let up = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await;
        if up.is_ok_and(|r| r.status().is_success()) {
            return (server, format!("http://127.0.0.1:{port}/api/v1"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the server did not come up");
}

/// Sends SIGTERM and waits: the exit must be clean.
fn stop(mut server: Server) {
    let killed = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = server.0.wait().unwrap();
    assert!(status.success(), "serve exited with {status}");
}

async fn scan(base: &str, token: &str, qr: &str) -> serde_json::Value {
    json_of(
        reqwest::Client::new()
            .post(format!("{base}/verify"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "qr": qr })),
    )
    .await
}

/// Issues every card of the demo district through `base`; returns their QR texts and serials.
async fn issue_all(base: &str, office: &str) -> Vec<(String, String)> {
    let client = reqwest::Client::new();
    let issued = client
        .post(format!("{base}/cards/batch"))
        .bearer_auth(office)
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
            .bearer_auth(office),
    )
    .await;
    cards
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["qr_text"].as_str().unwrap().to_owned(),
                c["serial"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `serve`, stopped by SIGTERM after a scan, drains the desk's audit log before it closes the
/// database: the scan is in the log, and on SQLite the WAL was checkpointed and removed (the
/// log's own connection closed before the pool).
#[tokio::test]
async fn serve_stops_cleanly_with_the_audit_log_drained() {
    for db in each_database() {
        let dir = tempfile::tempdir().unwrap();
        let token = demo(dir.path(), &db.url);
        let (server, base) = start(dir.path(), &db.url, "keys").await;
        let cards = issue_all(&base, &token("office")).await;
        let answer = scan(&base, &token("desk"), &cards[0].0).await;
        assert_eq!(answer["verdict"], "valid", "{answer}");
        // Started in a folder without card-templates/: the built-in layout prints.
        let pdf = reqwest::Client::new()
            .get(format!("{base}/cards/{}/pdf", cards[0].1))
            .bearer_auth(token("office"))
            .send()
            .await
            .unwrap();
        assert_eq!(pdf.status(), reqwest::StatusCode::OK);
        assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-"));
        stop(server);
        if db.is_sqlite() {
            assert!(dir.path().join("gc.db").exists());
            assert!(
                !dir.path().join("gc.db-wal").exists(),
                "the WAL was left behind: some connection was still open"
            );
        }
        let out = greenchannel(&["--database", &db.url, "audit", "check"], dir.path());
        succeeds_saying(&out, "intact: 1 entries");
    }
}

/// The scale-out shape: two service processes on one PostgreSQL database. A revocation made
/// through one is refused at the other's desk at once; a key compromised with the command line
/// reaches the other within its key refresh; both audit chains check.
#[tokio::test]
async fn two_instances_on_one_postgres_agree() {
    let Some(db) = postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let token = demo(dir.path(), &db.url);
    let (a, base_a) = start(dir.path(), &db.url, "keys-a").await;
    // The second instance has no signing secret of its own: it verifies with the shared keys.
    let (b, base_b) = start(dir.path(), &db.url, "keys-b").await;
    let (office, desk) = (token("office"), token("desk"));
    let cards = issue_all(&base_a, &office).await;
    assert!(cards.len() >= 2, "{cards:?}");
    assert_eq!(scan(&base_b, &desk, &cards[0].0).await["verdict"], "valid");
    assert_eq!(scan(&base_a, &desk, &cards[1].0).await["verdict"], "valid");
    let revoked = reqwest::Client::new()
        .post(format!("{base_a}/cards/{}/revoke", cards[0].1))
        .bearer_auth(&office)
        .json(&serde_json::json!({"reason": "lost"}))
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    assert_eq!(
        scan(&base_b, &desk, &cards[0].0).await["verdict"],
        "revoked",
        "at once"
    );
    // The key is compromised with the command line, on instance A's folder.
    let keys = json_of(reqwest::Client::new().get(format!("{base_b}/keys"))).await;
    let key_id = keys["keys"][0]["key_id"].as_str().unwrap().to_owned();
    let out = greenchannel(
        &[
            "--database",
            &db.url,
            "keys",
            "compromise",
            &key_id,
            "--keys-dir",
            "keys-a",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let v = scan(&base_b, &desk, &cards[1].0).await;
        if v["verdict"] == "key_compromised" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "instance B still says {v}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        scan(&base_a, &desk, &cards[1].0).await["verdict"],
        "key_compromised"
    );
    stop(a);
    stop(b);
    let out = greenchannel(&["--database", &db.url, "audit", "check"], dir.path());
    succeeds_saying(&out, "in 2 chain(s)");
    // Each instance has its own audit key: each signs both chains' heads, and each export
    // checks against its own key.
    for keys in ["keys-a", "keys-b"] {
        let file = format!("{keys}.json");
        let out = greenchannel(
            &[
                "--database",
                &db.url,
                "audit",
                "checkpoint",
                "--keys-dir",
                keys,
                "-o",
                &file,
            ],
            dir.path(),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("signed 2 new checkpoint(s)"),
            "{}",
            text(&out.stderr)
        );
        let out = greenchannel(
            &[
                "--database",
                &db.url,
                "audit",
                "check",
                "--checkpoint",
                &file,
                "--keys-dir",
                keys,
            ],
            dir.path(),
        );
        succeeds_saying(&out, "extending all 2 checkpoint(s)");
    }
}

/// `audit checkpoint` signs the chains' heads and writes them out; `audit check --checkpoint`
/// passes on the intact log and names the entry once a rewritten log no longer extends it.
#[tokio::test]
async fn an_exported_checkpoint_is_checked_from_the_command_line() {
    for db in each_database() {
        let dir = tempfile::tempdir().unwrap();
        let token = demo(dir.path(), &db.url);
        let (server, base) = start(dir.path(), &db.url, "keys").await;
        let cards = issue_all(&base, &token("office")).await;
        for _ in 0..3 {
            scan(&base, &token("desk"), &cards[0].0).await;
        }
        stop(server);
        let out = greenchannel(
            &[
                "--database",
                &db.url,
                "audit",
                "checkpoint",
                "--keys-dir",
                "keys",
                "-o",
                "cp.json",
            ],
            dir.path(),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let check = |dir: &std::path::Path| {
            greenchannel(
                &[
                    "--database",
                    &db.url,
                    "audit",
                    "check",
                    "--checkpoint",
                    "cp.json",
                    "--keys-dir",
                    "keys",
                ],
                dir,
            )
        };
        let out = check(dir.path());
        succeeds_saying(&out, "extending all 1 checkpoint(s)");
        // Truncating the log below the checkpoint is named.
        execute(&db, dir.path(), "delete from verification where seq >= 2").await;
        let out = check(dir.path());
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
        assert!(
            text(&out.stdout).contains("deleted"),
            "{}",
            text(&out.stdout)
        );
    }
}

/// Runs one statement on a test database, as someone with write access to it would.
async fn execute(db: &TestDb, dir: &std::path::Path, sql: &str) {
    if db.is_sqlite() {
        let url = format!("sqlite:{}", dir.join("gc.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.expect("sqlite");
        sqlx::query(sql).execute(&pool).await.expect(sql);
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.expect("postgres");
        sqlx::query(sql).execute(&pool).await.expect(sql);
        pool.close().await;
    }
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

/// Request logs name the route template, never the path a caller typed (an ID number in a URL)
/// nor the query string.
#[tokio::test]
async fn request_logs_carry_the_route_template_not_the_typed_path() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("gc.db").display());
    let token = demo(dir.path(), &db);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_greenchannel"))
            .args(["--database", &db, "serve", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .current_dir(dir.path())
            .env("RUST_LOG", "info,tower_http=debug")
            .env("GREENCHANNEL_KEYS_DIR", dir.path().join("keys"))
            .stderr(log)
            .spawn()
            .expect("serve starts"),
    );
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..400 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let typed = "370306196603201234";
    for path in [
        format!("/api/v1/households/{typed}"),
        format!("/api/v1/households?township={typed}"),
    ] {
        let res = client
            .get(format!("{base}{path}"))
            .bearer_auth(token("office"))
            .send()
            .await
            .unwrap();
        assert!(res.status().as_u16() < 500, "{path}: {}", res.status());
    }
    // A lowercase scheme is the same scheme.
    let res = client
        .get(format!("{base}/api/v1/households"))
        .header("authorization", format!("bearer {}", token("office")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    stop(server);
    let logged = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(logged.contains("route=/api/v1/households/{id}"), "{logged}");
    assert!(logged.contains("route=/api/v1/households}"), "{logged}");
    assert!(
        !logged.contains(typed),
        "the typed ID number was logged: {logged}"
    );
}

/// An operator who lost the demo or bootstrap tokens makes a new one from the command line; it
/// works at once, and an unknown account is named.
#[tokio::test]
async fn accounts_token_makes_a_working_token_for_an_account() {
    for db in each_database() {
        let dir = tempfile::tempdir().unwrap();
        let _ = demo(dir.path(), &db.url);
        let out = greenchannel(
            &["--database", &db.url, "accounts", "token", "nobody"],
            dir.path(),
        );
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains("no enabled account is named 'nobody'"),
            "{}",
            text(&out.stderr)
        );
        let accounts = greenchannel(
            &["--database", &db.url, "accounts", "token", "demo-office"],
            dir.path(),
        );
        assert!(accounts.status.success(), "{}", text(&accounts.stderr));
        let token = text(&accounts.stdout).trim().to_owned();
        assert!(token.starts_with("gct_"), "{token}");
        let (server, base) = start(dir.path(), &db.url, "keys").await;
        let me = json_of(
            reqwest::Client::new()
                .get(format!("{base}/me"))
                .bearer_auth(&token),
        )
        .await;
        assert_eq!(me["role"], "office", "{me}");
        stop(server);
    }
}

/// `card verify --at DATE` judges the status list's freshness at that date too: a list fresh
/// today is stale three days on, and one issued today did not exist yesterday.
#[tokio::test]
async fn card_verify_at_a_date_judges_the_status_list_then() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("gc.db").display());
    let token = demo(dir.path(), &db);
    let (server, base) = start(dir.path(), &db, "keys").await;
    let cards = issue_all(&base, &token("office")).await;
    let client = reqwest::Client::new();
    for (path, file) in [("keys", "keys.json"), ("status-list", "status.json")] {
        let body = client
            .get(format!("{base}/{path}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        std::fs::write(dir.path().join(file), body).unwrap();
    }
    stop(server);
    let verify = |at: Option<String>| {
        let mut args = vec![
            "card",
            "verify",
            "--keys",
            "keys.json",
            "--status-list",
            "status.json",
        ];
        let at = at.unwrap_or_default();
        if !at.is_empty() {
            args.extend(["--at", at.as_str()]);
        }
        args.push(&cards[0].0);
        let out = greenchannel(&args, dir.path());
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let now = verify(None);
    assert_eq!(now["verdict"], "valid", "{now}");
    assert_eq!(now["status_check"], "status_list", "{now}");
    for days in [3, -1] {
        let then = verify(Some((today + chrono::Duration::days(days)).to_string()));
        assert_ne!(then["status_check"], "status_list", "{days} days: {then}");
    }
    let same_day = verify(Some(today.to_string()));
    assert_eq!(same_day["status_check"], "status_list", "{same_day}");
}

/// Signs in on the console at `root` (the sign-in page's cookie and token, then the form);
/// returns where the answer sends the browser, or the status when it does not.
async fn console_sign_in(root: &str, name: &str, password: &str) -> Result<String, u16> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client.get(format!("{root}/")).send().await.unwrap();
    let login = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("gc_login="))
        .and_then(|v| v.split(';').next())
        .expect("the sign-in page's cookie")
        .to_owned();
    let html = page.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let res = client
        .post(format!("{root}/login"))
        .header("cookie", format!("gc_login={login}"))
        .form(&[("name", name), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    match res.status().as_u16() {
        303 => Ok(res.headers()["location"].to_str().unwrap().to_owned()),
        s => Err(s),
    }
}

/// The demo prints a console password per role that signs in; `accounts password` replaces it
/// from standard input (never the command line), refusing a weak one with the rule.
#[tokio::test]
async fn the_demo_password_signs_in_and_accounts_password_replaces_it() {
    for db in each_database() {
        let dir = tempfile::tempdir().unwrap();
        let out = greenchannel(
            &["--database", &db.url, "demo", "--households", "3"],
            dir.path(),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let printed = text(&out.stdout);
        let line = printed
            .lines()
            .find(|l| l.trim_start().starts_with("office "))
            .expect("office line");
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[1], "demo-office", "{line}");
        let password = words[2].to_owned();
        let (server, base) = start(dir.path(), &db.url, "keys").await;
        let root = base.trim_end_matches("/api/v1").to_owned();
        assert_eq!(
            console_sign_in(&root, "demo-office", &password).await,
            Ok("/".into())
        );

        let set = |input: &'static str| {
            let mut child = Command::new(env!("CARGO_BIN_EXE_greenchannel"))
                .args(["--database", &db.url, "accounts", "password", "demo-office"])
                .current_dir(dir.path())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            child.wait_with_output().unwrap()
        };
        let weak = set("short\n");
        assert!(!weak.status.success());
        assert!(
            text(&weak.stderr).contains("password: 密码至少 10 个字符"),
            "{}",
            text(&weak.stderr)
        );
        let ok = set("a-long-passphrase-1\r\n");
        assert!(ok.status.success(), "{}", text(&ok.stderr));
        assert_eq!(
            console_sign_in(&root, "demo-office", &password).await,
            Err(401)
        );
        assert_eq!(
            console_sign_in(&root, "demo-office", "a-long-passphrase-1").await,
            Ok("/".into())
        );
        stop(server);
    }
}
