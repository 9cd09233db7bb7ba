//! Command-line and environment configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// greenchannel: register, entitlements and signed medical cards for family-planning special
/// families (周政发〔2018〕85号).
#[derive(Debug, Parser)]
#[command(name = "greenchannel", version, about)]
pub struct Config {
    /// Database URL: `sqlite:PATH` (the embedded default) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        default_value = "sqlite:data/greenchannel.db"
    )]
    pub database: String,

    /// Log format.
    #[arg(long, global = true, env = "GREENCHANNEL_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service.
    Serve(ServeArgs),
    /// Create the first office account and print its token (once).
    Bootstrap {
        /// The account's name.
        #[arg(long, default_value = "office")]
        name: String,
    },
    /// Fill an empty database with a fictional district and print one token per role.
    Demo {
        /// How many households to invent.
        #[arg(long, default_value_t = 300)]
        households: u32,
    },
    /// Import households from a CSV file (all or nothing).
    Import {
        /// The CSV file (UTF-8 or GBK/GB18030).
        file: PathBuf,
        /// Check every row and report problems without writing anything.
        #[arg(long)]
        dry_run: bool,
        /// The file's encoding: auto, utf-8, gbk or gb18030.
        #[arg(long, default_value = "auto")]
        encoding: String,
    },
    /// Export households as CSV (the import format).
    Export {
        /// Only this township (code).
        #[arg(long)]
        township: Option<String>,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Rule sets and entitlements, without a database.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// The district's card-signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Cards.
    #[command(subcommand)]
    Card(CardCommand),
    /// The verification audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Staff accounts.
    #[command(subcommand)]
    Accounts(AccountsCommand),
}

/// `greenchannel accounts ...`: local access to the database is full trust already, so an
/// operator who lost a token makes a new one here.
#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Make a new bearer token for an account (printed once) and keep it in the account's
    /// tokens, labelled as made on the command line.
    Token {
        /// The account's name.
        name: String,
        /// What the token is for (kept with it).
        #[arg(long, default_value = "command line")]
        label: String,
    },
    /// Set an account's console password, read from the first line of standard input (so it
    /// never appears in the shell's history or the process list):
    /// `printf '%s\n' 'new password' | greenchannel accounts password NAME`.
    Password {
        /// The account's name.
        name: String,
        /// The account must choose its own password at its next sign-in.
        #[arg(long)]
        temporary: bool,
    },
}

/// `greenchannel audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chains (and, with `--checkpoint`, that the log still extends every
    /// exported checkpoint); names the first bad entry and exits non-zero if there is one.
    Check {
        /// A checkpoint file exported earlier (`audit checkpoint -o`, or
        /// `GET /api/v1/audit/checkpoints`).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// The key folder holding the audit key: when given, the file must carry that key.
        #[arg(long, env = "GREENCHANNEL_KEYS_DIR")]
        keys_dir: Option<PathBuf>,
    },
    /// Sign the chains' heads now and write every checkpoint (with the audit key's public
    /// half) for safekeeping outside the service.
    Checkpoint {
        /// The key folder holding the audit key (made on first use).
        #[arg(long, env = "GREENCHANNEL_KEYS_DIR", default_value = "data/keys")]
        keys_dir: PathBuf,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// `greenchannel rules ...`
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Evaluate one household from a JSON file and print its entitlements as JSON.
    Eval {
        /// The date to evaluate on (YYYY-MM-DD).
        #[arg(long)]
        on: chrono::NaiveDate,
        /// Extra rule documents (successors, continuations) to load after the shipped one.
        #[arg(long = "rules")]
        rules: Vec<PathBuf>,
        /// The household JSON file.
        file: PathBuf,
    },
    /// Check a rule-set or continuation file against the shipped rule set.
    Check {
        /// The TOML file.
        file: PathBuf,
    },
}

/// `greenchannel keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate the first signing key (refused if keys exist).
    Generate(KeysArgs),
    /// Make a new signing key; old keys keep verifying the cards they signed.
    Rotate(KeysArgs),
    /// Print (or write) the public key set for desks' offline verification.
    Export {
        /// Where the keys are kept.
        #[arg(long, env = "GREENCHANNEL_KEYS_DIR", default_value = "data/keys")]
        keys_dir: PathBuf,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Retire a key: its cards stop verifying.
    Retire(KeyIdArgs),
    /// Mark a key compromised: every card it signed fails.
    Compromise(KeyIdArgs),
}

impl KeysCommand {
    /// The key folder the command works on.
    pub fn keys_dir(&self) -> &std::path::Path {
        match self {
            Self::Generate(a) | Self::Rotate(a) => &a.keys_dir,
            Self::Export { keys_dir, .. } => keys_dir,
            Self::Retire(a) | Self::Compromise(a) => &a.keys_dir,
        }
    }
}

/// Options of `keys generate` and `keys rotate`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// Where the keys are kept (owner-only).
    #[arg(long, env = "GREENCHANNEL_KEYS_DIR", default_value = "data/keys")]
    pub keys_dir: PathBuf,
    /// How many days cards signed by the key may stay valid.
    #[arg(long, default_value_t = 3650)]
    pub valid_days: u64,
}

/// A key by id.
#[derive(Debug, Args)]
pub struct KeyIdArgs {
    /// Where the keys are kept.
    #[arg(long, env = "GREENCHANNEL_KEYS_DIR", default_value = "data/keys")]
    pub keys_dir: PathBuf,
    /// The key id (16 hex characters).
    pub key_id: String,
}

/// `greenchannel card ...`
#[derive(Debug, Subcommand)]
pub enum CardCommand {
    /// Issue a card to every entitled member without a current card, with a progress bar. Each
    /// card is its own transaction: a failure is reported and loses nothing; re-running is safe.
    IssueAll {
        /// Where the keys are kept.
        #[arg(long, env = "GREENCHANNEL_KEYS_DIR", default_value = "data/keys")]
        keys_dir: PathBuf,
        /// The card layout template (its font checks that names can be printed); without it,
        /// the built-in default (`card-templates/default.toml`).
        #[arg(long, env = "GREENCHANNEL_CARD_TEMPLATE")]
        card_template: Option<PathBuf>,
    },
    /// Verify a scanned card offline; prints a JSON verdict and exits 0 only when valid.
    Verify {
        /// The public key set (from `keys export` or GET /api/v1/keys).
        #[arg(long)]
        keys: PathBuf,
        /// A status list (from GET /api/v1/status-list) to check revocation against.
        #[arg(long)]
        status_list: Option<PathBuf>,
        /// Verify as of the end of this date in Asia/Shanghai, the status list's freshness too
        /// (default: now).
        #[arg(long)]
        at: Option<chrono::NaiveDate>,
        /// The scanned text, `GC1:...`.
        text: String,
    },
}

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "GREENCHANNEL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Fill an empty database with demo data first.
    #[arg(long)]
    pub demo: bool,
    /// How many households the demo invents.
    #[arg(long, default_value_t = 300)]
    pub demo_households: u32,
    /// Database connections in the pool.
    #[arg(long, env = "GREENCHANNEL_DB_CONNECTIONS", default_value_t = 8)]
    pub db_connections: u32,
    /// Where the card-signing keys are kept (created on first start).
    #[arg(long, env = "GREENCHANNEL_KEYS_DIR", default_value = "data/keys")]
    pub keys_dir: PathBuf,
    /// The card layout template; without it, the built-in default
    /// (`card-templates/default.toml`).
    #[arg(long, env = "GREENCHANNEL_CARD_TEMPLATE")]
    pub card_template: Option<PathBuf>,
    /// Seconds to let in-flight requests finish after SIGTERM.
    #[arg(long, default_value_t = 20)]
    pub shutdown_grace_secs: u64,
    /// The service is reached over HTTPS (a TLS proxy in front): console cookies are `Secure`.
    #[arg(long, env = "GREENCHANNEL_BEHIND_TLS")]
    pub behind_tls: bool,
}
