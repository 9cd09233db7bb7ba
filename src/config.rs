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
    Demo,
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
    /// Database connections in the pool.
    #[arg(long, env = "GREENCHANNEL_DB_CONNECTIONS", default_value_t = 8)]
    pub db_connections: u32,
    /// Seconds to let in-flight requests finish after SIGTERM.
    #[arg(long, default_value_t = 20)]
    pub shutdown_grace_secs: u64,
}
