//! Live changes for dashboards: projectors `NOTIFY pga_changes` inside their transactions
//! (delivered on commit, dropped on rollback); one listener per process fans them out to every
//! `GET /events` stream.

use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// The fan-out channel; a slow browser that falls behind skips to the newest changes.
pub fn channel() -> broadcast::Sender<String> {
    broadcast::channel(1024).0
}

/// Forwards notifications until `shutdown`, reconnecting when PostgreSQL goes away.
pub async fn run(pool: PgPool, changes: broadcast::Sender<String>, shutdown: CancellationToken) {
    loop {
        let listener = async {
            let mut l = PgListener::connect_with(&pool).await?;
            l.listen("pga_changes").await?;
            loop {
                let n = l.recv().await?;
                let _ = changes.send(n.payload().to_owned());
            }
            #[allow(unreachable_code)]
            Ok::<(), sqlx::Error>(())
        };
        tokio::select! {
            r = listener => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "change listener lost its connection; reconnecting");
                }
            }
            () = shutdown.cancelled() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = shutdown.cancelled() => return,
        }
    }
}
