//! Retention: storage upkeep deletes, from every table that grows with time, exactly the rows
//! past their age and nothing else.

use chrono::{DateTime, Duration, DurationRound, Utc};
use projections::maintenance::{prune, Pruned, Retention};

use crate::support::*;

fn retention() -> Retention {
    Retention {
        rollup_1m: Duration::days(30),
        rollup_1h: Duration::days(400),
        rejected: Duration::days(30),
        expired_sessions: Duration::days(7),
    }
}

/// A migrated database with nothing running on it, and a pool like the upkeep's.
struct Database {
    sql: tokio_postgres::Client,
    pool: deadpool_postgres::Pool,
    /// Held to the end of the test: dropping it drops the database.
    _env: TestEnv,
}

async fn database() -> Database {
    let env = TestEnv::new().await;
    let sql = env.sql().await;
    let pool = projections::db::pool(&env.config.database_url, 2).expect("pool");
    Database {
        sql,
        pool,
        _env: env,
    }
}

fn hour(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::hours(1)).expect("trunc")
}

async fn rollup(sql: &tokio_postgres::Client, table: &str, series: i64, bucket: DateTime<Utc>) {
    sql.execute(
        &format!(
            "INSERT INTO {table} (series_id, bucket, min, max, sum, count, last, last_ts)
             VALUES ($1, $2, 1, 1, 1, 1, 1, $2)"
        ),
        &[&series, &bucket],
    )
    .await
    .expect("rollup");
}

async fn hours_built_until(sql: &tokio_postgres::Client, until: DateTime<Utc>) {
    sql.execute(
        "INSERT INTO metric_rollup_state (id, hours_done_until) VALUES (true, $1)",
        &[&until],
    )
    .await
    .expect("state");
}

async fn buckets(sql: &tokio_postgres::Client, table: &str) -> Vec<i64> {
    sql.query(
        &format!("SELECT series_id FROM {table} ORDER BY series_id"),
        &[],
    )
    .await
    .expect("rows")
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[tokio::test]
async fn one_minute_rollups_older_than_their_retention_are_deleted_by_whole_hours() {
    let Database { sql, pool, _env } = database().await;
    let now = Utc::now();
    let cutoff_hour = hour(now - Duration::days(30));
    rollup(&sql, "metric_rollup_1m", 1, now - Duration::days(31)).await;
    rollup(
        &sql,
        "metric_rollup_1m",
        2,
        cutoff_hour - Duration::minutes(1),
    )
    .await;
    // In the hour the cutoff falls in: kept with the rest of its hour.
    rollup(
        &sql,
        "metric_rollup_1m",
        3,
        cutoff_hour + Duration::minutes(1),
    )
    .await;
    rollup(&sql, "metric_rollup_1m", 4, now - Duration::days(29)).await;
    rollup(&sql, "metric_rollup_1m", 5, now).await;
    hours_built_until(&sql, hour(now)).await;
    let pruned = prune(&pool, now, &retention()).await.expect("prune");
    assert_eq!(pruned.rollup_1m, 2, "{pruned:?}");
    assert_eq!(buckets(&sql, "metric_rollup_1m").await, vec![3, 4, 5]);
}

#[tokio::test]
async fn one_minute_rollups_of_hours_not_built_yet_are_kept_past_their_retention() {
    let Database { sql, pool, _env } = database().await;
    let now = Utc::now();
    let watermark = hour(now - Duration::days(40));
    rollup(
        &sql,
        "metric_rollup_1m",
        1,
        watermark - Duration::minutes(1),
    )
    .await;
    rollup(
        &sql,
        "metric_rollup_1m",
        2,
        watermark + Duration::minutes(1),
    )
    .await;
    hours_built_until(&sql, watermark).await;
    let pruned = prune(&pool, now, &retention()).await.expect("prune");
    assert_eq!(pruned.rollup_1m, 1, "{pruned:?}");
    assert_eq!(buckets(&sql, "metric_rollup_1m").await, vec![2]);
}

#[tokio::test]
async fn one_hour_rollups_older_than_their_retention_are_deleted() {
    let Database { sql, pool, _env } = database().await;
    let now = Utc::now();
    rollup(&sql, "metric_rollup_1h", 1, hour(now - Duration::days(401))).await;
    rollup(&sql, "metric_rollup_1h", 2, hour(now - Duration::days(399))).await;
    rollup(&sql, "metric_rollup_1h", 3, hour(now - Duration::days(31))).await;
    let pruned = prune(&pool, now, &retention()).await.expect("prune");
    assert_eq!(pruned.rollup_1h, 1, "{pruned:?}");
    assert_eq!(buckets(&sql, "metric_rollup_1h").await, vec![2, 3]);
}

#[tokio::test]
async fn collector_minutes_older_than_24_hours_are_deleted_and_the_rolling_count_is_unchanged() {
    let Database { sql, pool, _env } = database().await;
    let now = Utc::now();
    let collector = uuid::Uuid::new_v4();
    for (hours_ago, samples) in [(25_i64, 1_i64), (24, 10), (23, 100), (0, 1000)] {
        sql.execute(
            "INSERT INTO rm_collector_minutes (collector_id, minute, samples) VALUES ($1, $2, $3)",
            &[
                &collector,
                &(now - Duration::hours(hours_ago) - Duration::seconds(1)),
                &samples,
            ],
        )
        .await
        .expect("minute");
    }
    let pruned = prune(&pool, now, &retention()).await.expect("prune");
    assert_eq!(pruned.collector_minutes, 2, "{pruned:?}");
    assert_eq!(
        count(&sql, "SELECT sum(samples)::int8 FROM rm_collector_minutes").await,
        1100
    );
}

#[tokio::test]
async fn rejected_messages_older_than_their_retention_are_deleted() {
    let Database { sql, pool, _env } = database().await;
    let now = Utc::now();
    for (seq, days_ago) in [(1_i64, 31_i64), (2, 29), (3, 0)] {
        sql.execute(
            "INSERT INTO projection_rejected (projection, stream_sequence, subject, reason, payload, rejected_at)
             VALUES ('metric_samples', $1, 'pga.metrics.x', 'bad', '', $2)",
            &[&seq, &(now - Duration::days(days_ago))],
        )
        .await
        .expect("rejected");
    }
    let pruned = prune(&pool, now, &retention()).await.expect("prune");
    assert_eq!(pruned.rejected, 1, "{pruned:?}");
    assert_eq!(
        count(
            &sql,
            "SELECT count(*) FROM projection_rejected WHERE stream_sequence = 1"
        )
        .await,
        0
    );
    assert_eq!(
        count(&sql, "SELECT count(*) FROM projection_rejected").await,
        2
    );
}

#[tokio::test]
async fn sessions_expired_past_the_keep_are_deleted_and_revoked_live_ones_stay() {
    let Database { sql, pool, _env } = database().await;
    let now = Utc::now();
    // (expires in days, revoked): long expired, just expired, rotated but not expired, live.
    let sessions = [(-8_i64, false), (-1, true), (5, true), (30, false)];
    for (i, (expires_in, revoked)) in sessions.iter().enumerate() {
        sql.execute(
            "INSERT INTO auth_sessions (id, family_id, user_id, token_hash, expires_at, revoked_at)
             VALUES ($1, $1, $1, $2, $3, CASE WHEN $4 THEN now() END)",
            &[
                &uuid::Uuid::new_v4(),
                &vec![i as u8; 32],
                &(now + Duration::days(*expires_in)),
                revoked,
            ],
        )
        .await
        .expect("session");
    }
    let pruned = prune(&pool, now, &retention()).await.expect("prune");
    assert_eq!(pruned.sessions, 1, "{pruned:?}");
    assert_eq!(count(&sql, "SELECT count(*) FROM auth_sessions").await, 3);
    assert_eq!(
        count(
            &sql,
            &format!(
                "SELECT count(*) FROM auth_sessions WHERE expires_at < '{}'",
                (now - Duration::days(7)).to_rfc3339()
            )
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_second_pass_deletes_nothing_more() {
    let Database { sql, pool, _env } = database().await;
    let now = Utc::now();
    rollup(&sql, "metric_rollup_1h", 1, hour(now - Duration::days(500))).await;
    let first = prune(&pool, now, &retention()).await.expect("prune");
    assert_eq!(first.rollup_1h, 1);
    let second = prune(&pool, now, &retention()).await.expect("prune");
    assert_eq!(second, Pruned::default());
}

#[tokio::test]
async fn notifications_older_than_30_days_are_deleted_with_their_attempts() {
    let Database { sql, pool, _env } = database().await;
    let now = Utc::now();
    for (seq, days_ago) in [(1_i64, 31_i64), (2, 29)] {
        let id: i64 = sql
            .query_one(
                "INSERT INTO notification_outbox (alert_id, alert_sequence, channel_id, kind, payload, status, created_at)
                 VALUES ($1, $2, $1, 'firing', '{}', 'delivered', $3) RETURNING id",
                &[&uuid::Uuid::nil(), &seq, &(now - Duration::days(days_ago))],
            )
            .await
            .expect("outbox")
            .get(0);
        sql.execute(
            "INSERT INTO notification_attempts (outbox_id, attempt, started_at, finished_at, outcome)
             VALUES ($1, 1, $2, $2, 'delivered')",
            &[&id, &(now - Duration::days(days_ago))],
        )
        .await
        .expect("attempt");
    }
    let pruned = prune(&pool, now, &retention()).await.expect("prune");
    assert_eq!(pruned.notifications, 1, "{pruned:?}");
    assert_eq!(
        count(
            &sql,
            "SELECT count(*) FROM notification_outbox WHERE alert_sequence = 2"
        )
        .await,
        1
    );
    assert_eq!(
        count(&sql, "SELECT count(*) FROM notification_attempts").await,
        1
    );
}
