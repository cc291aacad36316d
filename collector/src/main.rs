//! `pganalytics-collector`: run the agent, collect once, or check a configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use collector::agent;
use collector::config::Config;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "pganalytics-collector", version, about)]
struct Cli {
    /// The TOML configuration file (`PGA_COLLECTOR_*` variables override it).
    #[arg(long, short, env = "PGA_COLLECTOR_CONFIG_FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Register if needed, then collect and push until stopped (the default).
    Run,
    /// Collect every family once and print the batches as JSON; sends nothing.
    Once,
    /// Check the configuration and print it (secrets hidden).
    Check,
    /// Measure what passes cost this process and the monitored server; prints JSON.
    Measure {
        /// Passes of each kind.
        #[arg(long, default_value_t = 20)]
        passes: u32,
        /// Pause between passes, in milliseconds.
        #[arg(long, default_value_t = 500)]
        gap_ms: u64,
    },
}

// Over 60 lines on purpose: the command dispatch, one arm per subcommand.
fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PGA_COLLECTOR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("pganalytics-collector: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pganalytics-collector: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Run) {
            Command::Check => {
                println!("{config:#?}");
                Ok(())
            }
            Command::Once => {
                let mut agent = agent::Agent::new(config, "once".into())?;
                let batches = agent.collect_all().await;
                println!("{}", serde_json::to_string_pretty(&batches)?);
                Ok(())
            }
            Command::Measure { passes, gap_ms } => {
                let report = collector::measure::measure(
                    config,
                    passes,
                    std::time::Duration::from_millis(gap_ms),
                )
                .await?;
                println!("{}", serde_json::to_string_pretty(&report)?);
                Ok(())
            }
            Command::Run => {
                let (agent, link) = agent::prepare(config).await?;
                let shutdown = CancellationToken::new();
                let on_signal = shutdown.clone();
                tokio::spawn(async move {
                    wait_for_signal().await;
                    tracing::info!("stopping; unsent batches stay in the spool");
                    on_signal.cancel();
                });
                agent.run(link, shutdown).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pganalytics-collector: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = ctrl_c.await;
}
