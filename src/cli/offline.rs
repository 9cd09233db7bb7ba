//! Subcommands that need no database: rules evaluation, the key folder's part of key management,
//! offline card verification.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;

use crate::card::{cli_verify, KeyId, KeyStore};
use crate::config::{KeysCommand, RulesCommand};
use crate::rules::{eval_json, RuleBook};
use crate::time::today;

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// `greenchannel rules ...`
pub fn rules(cmd: RulesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RulesCommand::Eval { on, rules, file } => {
            let mut book = RuleBook::shipped().map_err(|e| anyhow::anyhow!("{e}"))?;
            for r in &rules {
                book.load_file(r).map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            let text = read(&file)?;
            match eval_json(&book, &text, on) {
                Ok(json) => {
                    println!("{}", serde_json::to_string_pretty(&json)?);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{}: {e}", file.display());
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        RulesCommand::Check { file } => {
            let mut book = RuleBook::shipped().map_err(|e| anyhow::anyhow!("{e}"))?;
            match book.load_file(&file) {
                Ok(()) => {
                    for w in book.windows() {
                        println!("{} {} ..= {}", w.id, w.from, w.until);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

/// `greenchannel keys ...`
pub fn keys(cmd: KeysCommand) -> anyhow::Result<ExitCode> {
    let mut rng = rand::rngs::OsRng;
    let print = |e: &crate::card::KeyEntry, what: &str| {
        println!(
            "{what} key {} (valid {} ..= {})",
            e.key_id.to_hex(),
            e.valid_from,
            e.valid_until
        );
    };
    match cmd {
        KeysCommand::Generate(a) => {
            let e = KeyStore::open(&a.keys_dir)
                .generate(&mut rng, Utc::now(), a.valid_days)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print(&e, "generated");
        }
        KeysCommand::Rotate(a) => {
            let e = KeyStore::open(&a.keys_dir)
                .rotate(&mut rng, Utc::now(), a.valid_days)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print(&e, "new signing");
        }
        KeysCommand::Export { keys_dir, output } => {
            let json = KeyStore::open(&keys_dir)
                .key_set()
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .to_json();
            match output {
                Some(p) => {
                    std::fs::write(&p, json).with_context(|| format!("writing {}", p.display()))?
                }
                None => println!("{json}"),
            }
        }
        KeysCommand::Retire(a) | KeysCommand::Compromise(a)
            if KeyId::parse_hex(&a.key_id).is_none() =>
        {
            anyhow::bail!("key id '{}' is not 16 hex characters", a.key_id);
        }
        KeysCommand::Retire(a) => {
            let id = KeyId::parse_hex(&a.key_id).context("key id")?;
            KeyStore::open(&a.keys_dir)
                .retire(&id)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("retired key {}", a.key_id);
        }
        KeysCommand::Compromise(a) => {
            let id = KeyId::parse_hex(&a.key_id).context("key id")?;
            KeyStore::open(&a.keys_dir)
                .mark_compromised(&id)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "key {} marked compromised: every card it signed now fails",
                a.key_id
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `greenchannel card verify`: offline, with a key set and optionally a status list.
pub fn verify_card(
    keys: &Path,
    status_list: Option<&Path>,
    at: Option<chrono::NaiveDate>,
    text: &str,
) -> anyhow::Result<ExitCode> {
    let keys_json = read(keys)?;
    let list = status_list.map(read).transpose()?;
    let (json, code) = cli_verify(
        text,
        &keys_json,
        list.as_deref(),
        // "As of date X" is the end of X in Beijing, for the card and the list's freshness
        // alike: a list that was fresh then passes, one made later was not yet issued.
        at.map_or_else(Utc::now, crate::time::end_of_day),
        at.unwrap_or_else(today),
    );
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
