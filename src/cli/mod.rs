//! The command-line entry points behind `main`.

mod offline;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::auth::StaffRole;
use crate::config::{CardCommand, Command, Config, ServeArgs};
use crate::db::{accounts, households, import, redact_url, Db};
use crate::http::{app, serve, shutdown_signal, AppState};
use crate::time::today;

/// Runs one subcommand.
pub async fn run(config: Config) -> anyhow::Result<ExitCode> {
    match config.command {
        Command::Serve(args) => serve_cmd(&config.database, args).await,
        Command::Bootstrap { name } => bootstrap(&config.database, &name).await,
        Command::Accounts(crate::config::AccountsCommand::Token { name, label }) => {
            let db = Db::connect(&config.database, 2).await?;
            let id = crate::db::accounts::enabled_id(&db, &name)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .ok_or_else(|| anyhow::anyhow!("no enabled account is named '{name}'"))?;
            let label = format!(
                "{label} (greenchannel accounts token, {})",
                chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
            );
            let secret = crate::db::accounts::add_token(&db, id, &label)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            db.close().await;
            println!("{secret}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Accounts(crate::config::AccountsCommand::Password { name, temporary }) => {
            set_password_cmd(&config.database, &name, temporary).await
        }
        Command::Demo { households } => {
            let db = Db::connect(&config.database, 4).await?;
            demo(&db, None, households).await?;
            db.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            file,
            dry_run,
            encoding,
        } => {
            let encoding = encoding
                .parse()
                .map_err(|e: String| anyhow::anyhow!("--encoding: {e}"))?;
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let db = Db::connect(&config.database, 4).await?;
            let source = file.display().to_string();
            let report = import::import_households(
                &db,
                &bytes,
                encoding,
                dry_run,
                None,
                None,
                &source,
                today(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            db.close().await;
            for e in &report.errors {
                eprintln!("{}:{}: {}: {}", file.display(), e.line, e.field, e.reason);
            }
            if !report.errors.is_empty() {
                eprintln!("{} problem(s); nothing was imported", report.errors.len());
                return Ok(ExitCode::FAILURE);
            }
            let verb = if report.dry_run {
                "would import"
            } else {
                "imported"
            };
            println!(
                "{verb} {} households with {} members",
                report.households, report.members
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { township, output } => {
            let db = Db::connect(&config.database, 4).await?;
            let records = households::all_records(&db, township.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let places = import::known_places(&db)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let csv =
                import::export_csv(&records, &places, true).map_err(|e| anyhow::anyhow!("{e}"))?;
            db.close().await;
            match output {
                Some(path) => std::fs::write(&path, csv)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => std::io::Write::write_all(&mut std::io::stdout(), &csv)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules(cmd) => offline::rules(cmd),
        Command::Keys(cmd) => {
            // The folder learns the shared key set first (a key made on another instance can be
            // retired here), and the change reaches every running instance after.
            let db = Db::connect(&config.database, 2).await?;
            let store = crate::card::KeyStore::open(cmd.keys_dir());
            let sync = || async {
                crate::service::keys::sync(&store, &db)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))
            };
            sync().await?;
            let code = offline::keys(cmd)?;
            sync().await?;
            db.close().await;
            Ok(code)
        }
        Command::Card(CardCommand::IssueAll {
            keys_dir,
            card_template,
        }) => issue_all(&config.database, &keys_dir, card_template.as_deref()).await,
        Command::Card(CardCommand::Verify {
            keys,
            status_list,
            at,
            text,
        }) => offline::verify_card(&keys, status_list.as_deref(), at, &text),
        Command::Audit(crate::config::AuditCommand::Check {
            checkpoint,
            keys_dir,
        }) => audit_check(&config.database, checkpoint.as_deref(), keys_dir.as_deref()).await,
        Command::Audit(crate::config::AuditCommand::Checkpoint { keys_dir, output }) => {
            use crate::service::audit::{checkpoint, export, AuditKey};
            let key = AuditKey::open_or_create(&keys_dir)?;
            let db = Db::connect(&config.database, 2).await?;
            let made = checkpoint(&db, &key)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let file = export(&db, &key)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            db.close().await;
            let json = serde_json::to_string_pretty(&file)?;
            match output {
                Some(p) => {
                    std::fs::write(&p, json).with_context(|| format!("writing {}", p.display()))?
                }
                None => println!("{json}"),
            }
            eprintln!(
                "signed {} new checkpoint(s); {} in all",
                made.len(),
                file.checkpoints.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let db = Db::connect(&config.database, 1).await?;
            db.close().await;
            println!("migrations applied to {}", redact_url(&config.database));
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve_cmd(database: &str, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let db = Db::connect(database, args.db_connections).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("--listen: cannot bind {}", args.listen))?;
    let addr = listener.local_addr()?;
    if args.demo {
        demo(&db, Some(addr), args.demo_households).await?;
    }
    tracing::info!(%addr, database = %redact_url(database), "greenchannel listening");
    let cards =
        crate::http::CardService::open(&args.keys_dir, args.card_template.as_deref(), &db).await?;
    let audit_key = crate::service::audit::AuditKey::open_or_create(&args.keys_dir)?;
    let state = AppState::new(db.clone())
        .with_cards(cards)?
        .with_audit_key(audit_key)
        .with_secure_cookies(args.behind_tls);
    let verifier_stopped = state.verifier.as_ref().map(|v| v.stopped());
    // The desk's checkup line judged for the day before the first desk is answered.
    if let Ok(book) = state.desk_rule_book().await {
        let today = crate::time::today();
        if let Err(e) = state.desk_checkups.prefill_now(&db, &book, today).await {
            tracing::warn!(error = %e, "judging the register for the desk's checkup line failed");
        }
    }
    serve(
        listener,
        app(state),
        shutdown_signal(),
        Duration::from_secs(args.shutdown_grace_secs),
    )
    .await?;
    // Every accepted request has finished and the app is dropped: the desk's audit log writes
    // what it still holds and closes its connection; then closing the pool checkpoints the WAL.
    if let Some(stopped) = verifier_stopped {
        if tokio::time::timeout(Duration::from_secs(10), stopped.wait())
            .await
            .is_err()
        {
            tracing::warn!("the desk's audit log did not stop within 10 s");
        }
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn demo(db: &Db, addr: Option<std::net::SocketAddr>, households: u32) -> anyhow::Result<()> {
    // The shipped rules end on 2022-01-31; the demo records its own, labelled continuation so
    // that cards can be issued today.
    if crate::db::rules::documents(db)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .is_empty()
    {
        let text = include_str!("../../rules/demo/continuation-demo.toml");
        crate::service::rules::load(db, "rules/demo/continuation-demo.toml (DEMO)", text, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    match crate::demo::load(db, households)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        None => println!("The database already holds households; demo data not loaded."),
        Some(tokens) => {
            println!("Demo district loaded: {households} households, 11 facilities, one account per role.");
            println!("Accounts (shown once): role, name, console password, API token");
            for a in &tokens.0 {
                println!(
                    "  {:<9} {:<14} {}  {}",
                    a.role.as_str(),
                    a.name,
                    a.password.reveal(),
                    a.token
                );
            }
            if let Some(addr) = addr {
                println!("Console: http://{addr}/ (sign in as demo-office with its password)");
                println!("Service: http://{addr}/api/v1/ (try: curl -H 'Authorization: Bearer <office token>' http://{addr}/api/v1/households)");
                println!("Desk page: http://{addr}/desk (paste the desk token)");
            }
        }
    }
    Ok(())
}

/// `accounts password NAME [--temporary]`: the password from stdin's first line.
async fn set_password_cmd(database: &str, name: &str, temporary: bool) -> anyhow::Result<ExitCode> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let typed = line.trim_end_matches(['\n', '\r']);
    let password = crate::auth::password::Password::new_for(typed, name)
        .map_err(|e| anyhow::anyhow!("password: {e}"))?;
    let db = Db::connect(database, 2).await?;
    let id = accounts::enabled_id(&db, name)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .ok_or_else(|| anyhow::anyhow!("no enabled account is named '{name}'"))?;
    crate::service::sign_in::set_password(&db, id, password, temporary)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    db.close().await;
    eprintln!(
        "password of '{name}' set{}; its console sessions have ended",
        if temporary {
            " (to be changed at the next sign-in)"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}

async fn bootstrap(database: &str, name: &str) -> anyhow::Result<ExitCode> {
    let db = Db::connect(database, 2).await?;
    if accounts::office_exists(&db)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        eprintln!("an office account already exists; use it to create further accounts (POST /api/v1/accounts)");
        return Ok(ExitCode::FAILURE);
    }
    let input = accounts::AccountInput {
        name: name.to_owned(),
        role: StaffRole::Office,
        township_id: None,
        facility_id: None,
    };
    let password = crate::auth::password::Password::random();
    let (account, token) =
        crate::service::sign_in::create_account(&db, &input, password.clone(), true)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    db.close().await;
    println!(
        "office account '{}' created (id {}). Its token, shown only this once:",
        account.name, account.account_id
    );
    println!("{token}");
    println!(
        "Its console password, to be changed at the first sign-in: {}",
        password.reveal()
    );
    Ok(ExitCode::SUCCESS)
}

/// `audit check [--checkpoint FILE]`.
async fn audit_check(
    database: &str,
    checkpoint: Option<&std::path::Path>,
    keys_dir: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let file = match checkpoint {
        None => None,
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            let file: crate::audit::CheckpointFile = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: not a checkpoint file: {e}", p.display()))?;
            Some(file)
        }
    };
    // A key folder given must hold the audit key: a file is then only trusted if it carries that
    // key. Without a folder the file's own key is taken, and the command says so.
    let trusted = match keys_dir {
        Some(d) => {
            let path = d.join(crate::service::audit::AUDIT_KEY_FILE);
            anyhow::ensure!(
                path.exists(),
                "--keys-dir {}: no audit key ({}) to check the checkpoint file against",
                d.display(),
                crate::service::audit::AUDIT_KEY_FILE
            );
            Some(crate::service::audit::AuditKey::open_or_create(d)?)
        }
        None => {
            if let Some(f) = &file {
                eprintln!(
                    "note: without --keys-dir the checkpoints are checked against the key in the file ({}), which proves only that whoever holds that key signed them",
                    f.public_key
                );
            }
            None
        }
    };
    let db = Db::connect(database, 2).await?;
    let report = match &file {
        None => crate::db::audit::check(&db).await,
        Some(f) => crate::service::audit::check_with(&db, f, trusted.as_ref()).await,
    }
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    db.close().await;
    match report.first_bad {
        None => {
            println!(
                "audit log intact: {} entries in {} chain(s){}",
                report.entries,
                report.chains,
                file.map_or(String::new(), |f| format!(
                    ", extending all {} checkpoint(s)",
                    f.checkpoints.len()
                ))
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(bad) => {
            println!(
                "audit log broken at entry {} (chain {}, seq {}): {}",
                bad.verification_id, bad.chain_id, bad.seq, bad.problem
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `card issue-all`: batch issuing with a progress bar.
async fn issue_all(
    database: &str,
    keys_dir: &std::path::Path,
    template: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    use crate::service::cards::{issue, members_without_card};
    let db = Db::connect(database, 4).await?;
    let service = crate::http::CardService::open(keys_dir, template, &db).await?;
    let (book, _) = crate::db::rules::book(&db)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let issuer = service.issuer(&book).map_err(|e| anyhow::anyhow!("{e}"))?;
    let members = members_without_card(&db, &book, issuer.today, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let bar = indicatif::ProgressBar::new(members.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} cards  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (mut issued, mut failed) = (0u64, Vec::new());
    for member_id in members {
        match issue(&db, &issuer, member_id, None, None).await {
            Ok(_) => issued += 1,
            Err(e) => failed.push((member_id, e.to_string())),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    db.close().await;
    println!("issued {issued} card(s); {} failed", failed.len());
    for (member, why) in &failed {
        eprintln!("member {member}: {why}");
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
