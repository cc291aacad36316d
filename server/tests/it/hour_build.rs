//! The hour build of storage upkeep: data it cannot sum never stops it.

use chrono::{DateTime, Duration, DurationRound, Utc};

use crate::support::*;

/// A sample of `series` at `ts`, straight into storage (in its day's partition).
async fn minute(sql: &tokio_postgres::Client, series: i64, ts: DateTime<Utc>, value: f64) {
    sql.batch_execute(&projections::projectors::partition_ddl(ts.date_naive()))
        .await
        .expect("partition");
    sql.execute(
        "INSERT INTO metric_samples (ts, series_id, value) VALUES ($1, $2, $3)",
        &[&ts, &series, &value],
    )
    .await
    .expect("sample");
}

#[tokio::test]
async fn an_hour_whose_sum_overflows_is_recorded_and_the_other_hours_and_series_are_built() {
    let env = TestEnv::new().await;
    let sql = env.sql().await;
    let pool = projections::db::pool(&env.config.database_url, 2).expect("pool");
    let h1 = (Utc::now() - Duration::hours(6))
        .duration_trunc(Duration::hours(1))
        .expect("trunc");
    let (h2, h3) = (h1 + Duration::hours(1), h1 + Duration::hours(2));
    minute(&sql, 1, h1, 1.0).await;
    // Series 2 in the second hour: 1e308 + 1e308 overflows float8 (SQLSTATE 22003).
    minute(&sql, 2, h2, 1e308).await;
    minute(&sql, 2, h2 + Duration::minutes(1), 1e308).await;
    minute(&sql, 3, h2, 3.0).await;
    minute(&sql, 1, h3, 4.0).await;

    let done = projections::maintenance::build_hours(&pool, Utc::now(), 24)
        .await
        .expect("the bad series does not stop the build");
    assert_eq!((done.built, done.rejected), (3, 1), "{done:?}");
    let built: Vec<(i64, DateTime<Utc>, f64)> = sql
        .query(
            "SELECT series_id, bucket, sum FROM metric_rollup_1h ORDER BY bucket, series_id",
            &[],
        )
        .await
        .expect("hours")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(built, vec![(1, h1, 1.0), (3, h2, 3.0), (1, h3, 4.0)]);
    let watermark: DateTime<Utc> = sql
        .query_one("SELECT hours_done_until FROM metric_rollup_state", &[])
        .await
        .expect("state")
        .get(0);
    // Past the hours without samples after them, up to the last one closed long enough.
    let last_closed = (Utc::now() - projections::projectors::HOUR_BUILD_GRACE)
        .duration_trunc(Duration::hours(1))
        .expect("trunc");
    assert!(watermark > h3 && watermark <= last_closed, "{watermark}");

    let rejected = sql
        .query(
            "SELECT subject, reason, payload FROM projection_rejected
              WHERE projection = 'metric_rollup_1h'",
            &[],
        )
        .await
        .expect("rejected");
    assert_eq!(rejected.len(), 1);
    let (subject, reason, payload): (String, String, String) =
        (rejected[0].get(0), rejected[0].get(1), rejected[0].get(2));
    assert!(subject.ends_with(".2"), "{subject}");
    assert!(reason.starts_with("SQLSTATE 22003:"), "{reason}");
    assert!(reason.contains("out of range"), "{reason}");
    let payload: serde_json::Value = serde_json::from_str(&payload).expect("json");
    assert_eq!(payload["series_id"], 2);
    assert_eq!(payload["sqlstate"], "22003");

    // A late batch marks the hour dirty: rebuilt, still without the bad series, recorded once.
    sql.execute(
        "INSERT INTO metric_rollup_dirty_hours (hour) VALUES ($1)",
        &[&h2],
    )
    .await
    .expect("dirty");
    let again = projections::maintenance::build_hours(&pool, Utc::now(), 24)
        .await
        .expect("rebuild");
    assert_eq!((again.rebuilt, again.rejected), (1, 1), "{again:?}");
    assert_eq!(
        count(
            &sql,
            "SELECT count(*) FROM projection_rejected WHERE projection = 'metric_rollup_1h'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&sql, "SELECT count(*) FROM metric_rollup_1h").await,
        3
    );
}
