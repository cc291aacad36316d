//! Telling PostgreSQL errors caused by data from those caused by the infrastructure, and
//! naming them in log lines (`tokio_postgres::Error`'s `Display` is only "db error").

/// Whether `e` says the database or the way to it is in trouble (connection, resources,
/// serialization, operator intervention, system errors, or no server answer at all), so the
/// same work should be retried later. Any other SQLSTATE is caused by the data: retrying the
/// same rows fails the same way.
pub fn is_infrastructure(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        // No SQLSTATE: the connection or the protocol failed, unless the client refused to
        // encode or decode a value, which is the data's fault.
        None => {
            let text = e.to_string();
            !(text.starts_with("error serializing") || text.starts_with("error deserializing"))
        }
        // Beyond the connection (08), transaction rollback (40), resources (53), operator (57)
        // and system (58) classes: a read-only or aborted transaction (25: a standby after a
        // failover), a lock not available (55), PostgreSQL's internal errors and corruption
        // (XX), and a schema or grant that does not match the code (42501 insufficient
        // privilege, 42P01 undefined table, 42703 undefined column). Those are the deployment's
        // trouble, not the message's: rejecting the messages meanwhile would throw data away.
        Some(code) => {
            let code = code.code();
            ["08", "25", "40", "53", "55", "57", "58", "XX"]
                .iter()
                .any(|class| code.starts_with(class))
                || ["42501", "42P01", "42703"].contains(&code)
        }
    }
}

/// SQLSTATE, message and detail of a server error; the error and its cause otherwise.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut out = format!("SQLSTATE {}: {}", db.code().code(), db.message());
            if let Some(detail) = db.detail() {
                out.push_str(&format!(" (detail: {detail})"));
            }
            if let Some(hint) = db.hint() {
                out.push_str(&format!(" (hint: {hint})"));
            }
            if let Some(table) = db.table() {
                out.push_str(&format!(" (table: {table})"));
            }
            out
        }
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

/// [`describe`] for the first PostgreSQL error in `e`'s chain; `e` itself when there is none.
pub fn describe_any(e: &anyhow::Error) -> String {
    e.chain()
        .find_map(|c| c.downcast_ref::<tokio_postgres::Error>())
        .map_or_else(|| format!("{e:#}"), describe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_without_a_server_answer_is_infrastructure() {
        // A closed connection: no SQLSTATE.
        let e = tokio_postgres::Error::__private_api_timeout();
        assert!(is_infrastructure(&e));
        assert!(!describe(&e).is_empty());
    }
}
