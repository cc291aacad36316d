//! What each failure below the handlers means to a client: infrastructure errors become 503
//! (the detail goes to the log, not the body), an aggregate's refusals become 404, 409 or 422
//! by rule. Handlers use `?`; a handler maps an error itself only where its meaning differs
//! there (a refused registration secret is a 401 to a collector, a 404 to an admin).

use commands::collectors::CollectorCommandError;
use commands::instances::InstanceCommandError;
use commands::passwords::HashError;
use commands::service::CommandError;
use commands::users::CreateUserError;
use domain::collector::CollectorError;
use domain::managed_instance::ManagedInstanceError;
use domain::registration_secret::RegistrationSecretError;
use domain::user::UserError;

use super::ApiError;

impl From<HashError> for ApiError {
    fn from(e: HashError) -> Self {
        match e {
            // A full pool is load, not a fault: the client retries in a second.
            HashError::Busy(_) => Self::Busy {
                what: "password hashing is at capacity",
                retry_after_s: 1,
            },
            HashError::Failed(_) => Self::Internal(e.to_string()),
        }
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            // PostgreSQL's own words, with its code, for the log (the client sees a 503).
            Some(db) => {
                Self::Unavailable(format!("PostgreSQL {}: {}", db.code().code(), db.message()))
            }
            None => Self::Unavailable(format!("PostgreSQL: {e}")),
        }
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Unavailable(format!("PostgreSQL pool: {e}"))
    }
}

/// The event store's pool and the api's own tables (sessions, the admin lock).
impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::Unavailable(format!("PostgreSQL: {e}"))
    }
}

/// A command's failure: the aggregate's refusal as that aggregate's error converts, a
/// concurrent change as 409, the event store as 503.
impl<E> From<CommandError<E>> for ApiError
where
    E: std::error::Error,
    ApiError: From<E>,
{
    fn from(e: CommandError<E>) -> Self {
        match e {
            CommandError::Rejected(refusal) => refusal.into(),
            CommandError::Conflict(_) => Self::Conflict(e.to_string()),
            CommandError::Unavailable(detail) => Self::Unavailable(detail),
        }
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::NotFound | UserError::Deleted => Self::NotFound("user not found".into()),
            UserError::AlreadyExists | UserError::Inactive => Self::Conflict(e.to_string()),
        }
    }
}

impl From<ManagedInstanceError> for ApiError {
    fn from(e: ManagedInstanceError) -> Self {
        match e {
            ManagedInstanceError::NotFound | ManagedInstanceError::AlreadyRemoved => {
                Self::NotFound("managed instance not found".into())
            }
            // A refusal about a request field (a new target needs the password; no Unix
            // sockets).
            e => match e.field() {
                Some(field) => Self::Invalid {
                    field: field.into(),
                    message: e.to_string(),
                },
                None => Self::Conflict(e.to_string()),
            },
        }
    }
}

impl From<RegistrationSecretError> for ApiError {
    fn from(e: RegistrationSecretError) -> Self {
        match e {
            RegistrationSecretError::NotFound | RegistrationSecretError::Deleted => {
                Self::NotFound("registration secret not found".into())
            }
            e => Self::Conflict(e.to_string()),
        }
    }
}

impl From<CollectorError> for ApiError {
    fn from(e: CollectorError) -> Self {
        match e {
            CollectorError::NotFound | CollectorError::Deleted => {
                Self::NotFound("collector not found".into())
            }
            e => Self::Conflict(e.to_string()),
        }
    }
}

impl From<CreateUserError> for ApiError {
    fn from(e: CreateUserError) -> Self {
        match e {
            CreateUserError::UsernameTaken(_) => Self::Conflict(e.to_string()),
            CreateUserError::Command(e) => e.into(),
            CreateUserError::Store(e) => e.into(),
            CreateUserError::Hash(e) => e.into(),
        }
    }
}

impl From<InstanceCommandError> for ApiError {
    fn from(e: InstanceCommandError) -> Self {
        match e {
            InstanceCommandError::NameTaken(_) => Self::Conflict(e.to_string()),
            InstanceCommandError::NoEncryptionKey => Self::Invalid {
                field: "password".into(),
                message: e.to_string(),
            },
            InstanceCommandError::Command(e) => e.into(),
            InstanceCommandError::Store(e) => e.into(),
        }
    }
}

/// As an admin managing secrets sees it; a collector registering sees a refused secret
/// differently (`http::collectors::register`).
impl From<CollectorCommandError> for ApiError {
    fn from(e: CollectorCommandError) -> Self {
        match e {
            CollectorCommandError::UnknownSecret => Self::Unauthorized {
                code: "invalid_registration_secret",
                message: "the registration secret is not valid".into(),
            },
            CollectorCommandError::Secret(e) => e.into(),
            CollectorCommandError::Collector(e) => e.into(),
            CollectorCommandError::Store(e) => e.into(),
        }
    }
}

impl From<domain::alerting::AlertRuleError> for ApiError {
    fn from(e: domain::alerting::AlertRuleError) -> Self {
        use domain::alerting::AlertRuleError as E;
        match e {
            E::NotFound | E::Deleted => Self::NotFound("alert rule not found".into()),
            e => Self::Conflict(e.to_string()),
        }
    }
}

impl From<domain::alerting::AlertError> for ApiError {
    fn from(e: domain::alerting::AlertError) -> Self {
        use domain::alerting::AlertError as E;
        match e {
            E::NotFound => Self::NotFound("alert not found".into()),
            e => Self::Conflict(e.to_string()),
        }
    }
}

impl From<domain::alerting::SilenceError> for ApiError {
    fn from(e: domain::alerting::SilenceError) -> Self {
        use domain::alerting::SilenceError as E;
        match e {
            E::NotFound => Self::NotFound("silence not found".into()),
            E::Invalid(m) => Self::Invalid {
                field: "body".into(),
                message: m,
            },
            e => Self::Conflict(e.to_string()),
        }
    }
}

impl From<domain::alerting::ChannelError> for ApiError {
    fn from(e: domain::alerting::ChannelError) -> Self {
        use domain::alerting::ChannelError as E;
        match e {
            E::NotFound | E::Deleted => Self::NotFound("notification channel not found".into()),
            E::Invalid(m) => Self::Invalid {
                field: "body".into(),
                message: m,
            },
            e => Self::Conflict(e.to_string()),
        }
    }
}
