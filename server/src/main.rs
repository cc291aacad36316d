//! `pganalytics`: every server role of pgAnalytics in one binary.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use pganalytics::app::{self, Roles};
use pganalytics::config::Config;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "pganalytics",
    version,
    about = "Self-hosted PostgreSQL monitoring"
)]
struct Cli {
    /// Optional TOML configuration file (PGA_* variables override it).
    #[arg(long, env = "PGA_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every server role in one process (migrates first).
    Serve,
    /// The HTTP API only.
    Api,
    /// The HTTP metrics bridge only.
    Ingest,
    /// The relay and the projectors only.
    Project,
    /// Apply database migrations and exit.
    Migrate,
    /// Re-seal every stored instance password under PGA_ENCRYPTION_KEY (old keys in
    /// PGA_PREVIOUS_ENCRYPTION_KEYS), then drop the old key from the configuration.
    RotateKey,
    /// Rebuild projections from history into fresh tables and switch over.
    Replay {
        /// Projections to rebuild, in order (see `--list`).
        projections: Vec<String>,
        /// Rebuild every projection.
        #[arg(long)]
        all: bool,
        /// List projection names.
        #[arg(long)]
        list: bool,
    },
    /// The audit trail, for auditors.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Write the files of an operator-mode NATS (nats-server's configuration; the server's
    /// credential and the key that issues collectors theirs; seeds to keep offline).
    NatsInit {
        /// nats-server's folder (created; an existing set is never overwritten).
        #[arg(long)]
        dir: PathBuf,
        /// The server's files (default: <dir>/server).
        #[arg(long)]
        server_dir: Option<PathBuf>,
        /// Seeds to keep offline (default: <dir>/offline).
        #[arg(long)]
        offline_dir: Option<PathBuf>,
        /// The address nats-server will listen on.
        #[arg(long, default_value = "127.0.0.1:4222")]
        listen: std::net::SocketAddr,
        /// JetStream's store (default: <dir>/jetstream).
        #[arg(long)]
        store_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Every domain event recorded between two instants, newest first, read from the audit
    /// log projection (the database in PGA_DATABASE_URL).
    Export {
        /// Recorded at or after (RFC 3339, e.g. 2026-12-03T00:00:00Z).
        #[arg(long)]
        from: chrono::DateTime<chrono::Utc>,
        /// Recorded at or before (RFC 3339).
        #[arg(long)]
        to: chrono::DateTime<chrono::Utc>,
        /// `csv` or `jsonl`.
        #[arg(long, default_value = "csv", value_parser = ["csv", "jsonl"])]
        format: String,
        /// Only what this user (or collector, or task) did.
        #[arg(long)]
        actor: Option<String>,
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[tokio::main]
// Over 60 lines on purpose: the command dispatch: one arm per subcommand.
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,async_nats=warn,tokio_postgres=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    if let Command::NatsInit {
        dir,
        server_dir,
        offline_dir,
        listen,
        store_dir,
    } = &cli.command
    {
        let written = pganalytics::nats_init::NatsInit {
            dir: dir.clone(),
            server_dir: server_dir.clone(),
            offline_dir: offline_dir.clone(),
            listen: *listen,
            store_dir: store_dir.clone(),
        }
        .run()?;
        println!(
            "start nats-server -c {}\ngive the server the variables of {}\nmove the offline folder's seeds somewhere safe",
            written.nats_config.display(),
            written.server_env.display()
        );
        return Ok(());
    }
    let config = Config::load(cli.config.as_deref())?;
    let roles = match cli.command {
        Command::Serve => Roles::ALL,
        Command::Api => Roles {
            api: true,
            ingest: false,
            project: false,
            migrate: false,
        },
        Command::Ingest => Roles {
            api: false,
            ingest: true,
            project: false,
            migrate: false,
        },
        Command::Project => Roles {
            api: false,
            ingest: false,
            project: true,
            migrate: false,
        },
        Command::Migrate => {
            let pool = app::connect_store(&config, Duration::from_secs(30)).await?;
            commands::store::migrate(&pool)
                .await
                .context("applying migrations")?;
            println!("migrations applied");
            return Ok(());
        }
        Command::RotateKey => {
            let pool = app::connect_store(&config, Duration::from_secs(30)).await?;
            commands::store::migrate(&pool)
                .await
                .context("applying migrations")?;
            if config.encryption_key.is_none() {
                anyhow::bail!("set PGA_ENCRYPTION_KEY to the new key and PGA_PREVIOUS_ENCRYPTION_KEYS to the old ones");
            }
            let service = commands::service::CommandService::new(pool, app::tester(&config));
            let actor = domain::values::Actor::system("rotate-key");
            let n = commands::instances::reseal_all(&service, &actor).await?;
            let channels = commands::channels::reseal_all(&service, &actor).await?;
            println!("re-sealed {n} stored password(s) and {channels} notification channel secret(s) under the current key; the relay publishes the events when the server runs");
            return Ok(());
        }
        Command::Replay {
            projections,
            all,
            list,
        } => {
            return replay(&config, projections, all, list).await;
        }
        Command::Audit {
            command:
                AuditCommand::Export {
                    from,
                    to,
                    format,
                    actor,
                    output,
                },
        } => {
            let filter = projections::queries::audit::AuditFilter {
                from: Some(from),
                to: Some(to),
                actor_name: actor,
                ..Default::default()
            };
            return audit_export(&config, filter, &format, output.as_deref()).await;
        }
        Command::NatsInit { .. } => unreachable!("handled before the configuration is read"),
    };
    let shutdown = CancellationToken::new();
    let running = app::start(&config, roles, shutdown.clone()).await?;
    if let Some(addr) = running.addr {
        tracing::info!(%addr, "pgAnalytics listening: http://{addr}/api/v1/health");
    }
    wait_for_signal().await;
    tracing::info!("shutting down");
    shutdown.cancel();
    running.wait().await;
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn replay(config: &Config, names: Vec<String>, all: bool, list: bool) -> anyhow::Result<()> {
    let keys = api::auth::tokens::TokenKeys::new(
        config.require_jwt_secret()?.expose().as_bytes(),
        config.access_token_ttl,
    )?;
    let projectors = projections::projectors::all_projectors(
        std::sync::Arc::new(keys),
        &config.event_seal()?,
        config.storage(),
    );
    if list {
        for p in &projectors {
            println!("{}", p.name());
        }
        return Ok(());
    }
    let chosen: Vec<_> = if all {
        projectors
    } else if names.is_empty() {
        anyhow::bail!("name projections or pass --all (`--list` shows names)")
    } else {
        let mut chosen = Vec::new();
        for name in &names {
            let Some(found) = projectors.iter().find(|p| p.name() == name) else {
                anyhow::bail!(
                    "no projection named {name:?}; `pganalytics replay --list` shows them"
                );
            };
            chosen.push(found.clone());
        }
        chosen
    };
    let read_pool = projections::db::pool(&config.database_url, 4)?;
    let nats = app::nats_options(config)?
        .connect(config.nats_servers()?)
        .await
        .context("replay needs NATS (PGA_NATS_URL)")?;
    let jetstream = async_nats::jetstream::new(nats);
    for projector in chosen {
        let plan =
            projections::replay::plan(&read_pool, &jetstream, &config.names, projector.clone())
                .await?;
        println!("{plan}");
        if plan.refused.is_some() {
            anyhow::bail!("replay of {} refused", plan.projection);
        }
        let report =
            projections::replay::replay(&read_pool, &jetstream, &config.names, projector, &|p| {
                println!(
                    "replay {}: {}/{} messages",
                    p.projection, p.applied, p.target
                );
            })
            .await?;
        println!(
            "replay {}: switched over at stream sequence {}",
            report.projection, report.checkpoint
        );
    }
    Ok(())
}

/// Writes the audit entries matching `filter` as `format`, a page at a time, and says how many
/// on standard error.
async fn audit_export(
    config: &Config,
    mut filter: projections::queries::audit::AuditFilter,
    format: &str,
    output: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use projections::queries::audit;
    use std::io::Write;
    if filter.from > filter.to {
        anyhow::bail!("--from is after --to");
    }
    let pool = projections::db::pool(&config.database_url, 1)?;
    let client = pool.get().await.context("connecting to PGA_DATABASE_URL")?;
    // A file is written beside its name and renamed once complete: an export cut short
    // leaves no file that looks whole.
    let partial = output.map(|path| {
        let mut name = path.as_os_str().to_owned();
        name.push(".partial");
        std::path::PathBuf::from(name)
    });
    let mut out: Box<dyn Write> = match &partial {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    if format == "csv" {
        out.write_all(audit::CSV_HEADER.as_bytes())?;
    }
    let mut written = 0_u64;
    loop {
        let rows = audit::list(&client, &filter, 2_000).await?;
        for row in &rows {
            let line = if format == "csv" {
                row.to_csv_line()
            } else {
                row.to_json_line()
            };
            out.write_all(line.as_bytes())?;
        }
        written += rows.len() as u64;
        match rows.last() {
            Some(last) if rows.len() == 2_000 => {
                filter.before = Some(audit::Cursor::of(last));
            }
            _ => break,
        }
    }
    out.flush()?;
    drop(out);
    if let (Some(partial), Some(path)) = (&partial, output) {
        std::fs::rename(partial, path)
            .with_context(|| format!("renaming to {}", path.display()))?;
    }
    eprintln!("{written} audit entries written");
    Ok(())
}
