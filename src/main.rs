use clap::Parser;
use tracing_subscriber::EnvFilter;

use greenchannel::config::Config;

/// mimalloc instead of glibc's allocator: under the desk's load glibc spent about an eighth of
/// the server's time in `malloc`/`free` and heap consolidation (README § Benchmarks).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only on a terminal: a log file or the journal gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if config.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
    match greenchannel::cli::run(config).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
