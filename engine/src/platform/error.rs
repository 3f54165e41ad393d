//! The engine's one error type. Callers decide what to do by [`Error::kind`]; the API maps
//! kinds to HTTP statuses and the CLI to exit codes, each in one place.

use std::fmt;

/// What kind of failure an [`Error`] is, independent of where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's input is wrong (a bad file, an invalid argument).
    InvalidInput,
    /// Something named does not exist (a provider code, a tenant).
    NotFound,
    /// The change clashes with what is stored (a code already taken).
    Conflict,
    /// The database could not be reached or refused to serve.
    Unavailable,
    /// A fault of ours or of the environment; details go to the log, not to the user.
    Internal,
    /// Another system we talk to (a remote SFTP host) failed or refused us.
    Upstream,
}

/// Where in an input file something went wrong. Rows are numbered as a person sees them
/// in an editor or a spreadsheet: the first line or sheet row is 1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub row: Option<u64>,
    pub column: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(row) = self.row {
            write!(f, ": row {row}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column {column}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{location}: {message}")]
    BadFile { location: Location, message: String },

    #[error("invalid {field}: {message}")]
    InvalidArgument { field: &'static str, message: String },

    #[error("{entity} '{key}' not found")]
    NotFound { entity: &'static str, key: String },

    #[error("{entity} '{key}' already exists")]
    AlreadyExists { entity: &'static str, key: String },

    /// The request is well-formed but what is stored does not allow it.
    #[error("{0}")]
    Refused(String),

    #[error("limit reached: {0}")]
    LimitReached(String),

    // The server's own message is shown in full here and not chained as a source, or
    // `{:#}` would print "db error" twice.
    #[error("database unavailable: {}", postgres_message(.0))]
    Unavailable(tokio_postgres::Error),

    #[error("database error: {}", postgres_message(.0))]
    Database(tokio_postgres::Error),

    #[error("connection pool: {0}")]
    Pool(String),

    #[error(
        "migration {version} ({name}) was changed after it was applied; restore it and add a new migration instead"
    )]
    MigrationChanged { version: i32, name: String },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("a worker thread stopped unexpectedly: {0}")]
    Worker(String),

    /// A remote host (named `user@host:port`) failed: unreachable, refused our
    /// credentials, offered another host key, or failed a file operation.
    #[error("{remote}: {message}")]
    Remote { remote: String, message: String },

    /// The database refused a value or a change for what the data says (SQLSTATE class
    /// 22 or 23): a value it cannot hold, or a row other rows still use. Mapped in
    /// [`from_database`] so no route turns such a refusal into a server error.
    #[error("{message}")]
    Integrity { field: Option<String>, message: String, conflict: bool },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::BadFile { .. } | Error::InvalidArgument { .. } => ErrorKind::InvalidInput,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::AlreadyExists { .. } | Error::LimitReached(_) | Error::Refused(_) => ErrorKind::Conflict,
            Error::Unavailable(_) => ErrorKind::Unavailable,
            Error::Database(_)
            | Error::Pool(_)
            | Error::MigrationChanged { .. }
            | Error::Io { .. }
            | Error::Worker(_) => ErrorKind::Internal,
            Error::Remote { .. } => ErrorKind::Upstream,
            Error::Integrity { conflict: true, .. } => ErrorKind::Conflict,
            Error::Integrity { conflict: false, .. } => ErrorKind::InvalidInput,
        }
    }

    pub fn bad_file(location: Location, message: impl Into<String>) -> Self {
        Error::BadFile { location, message: message.into() }
    }

    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidArgument { field, message: message.into() }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }
}

fn postgres_message(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {} ({})", db.severity(), db.message(), db.code().code()),
        None => match std::error::Error::source(error) {
            Some(cause) => format!("{error}: {cause}"),
            None => error.to_string(),
        },
    }
}

/// The SQLSTATEs that mean "the server is not there or not taking work", as opposed to a
/// fault in our SQL.
fn is_unavailable(error: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    if error.is_closed() {
        return true;
    }
    match error.code() {
        // No SQLSTATE: either the connection failed (an I/O error underneath) or we
        // passed a value of the wrong type, which is our fault, not the server's.
        None => std::error::Error::source(error).is_some_and(|cause| cause.is::<std::io::Error>()),
        Some(code) => [
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::INVALID_CATALOG_NAME,
            SqlState::INVALID_PASSWORD,
            SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
        ]
        .contains(code),
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(error: tokio_postgres::Error) -> Self {
        if is_unavailable(&error) {
            return Error::Unavailable(error);
        }
        from_database(&error).unwrap_or(Error::Database(error))
    }
}

/// The constraint and data errors PostgreSQL reports, as domain errors naming what is at
/// fault; `None` for anything else (a server error). SQLSTATEs and constraint names are
/// read here and nowhere else.
fn from_database(error: &tokio_postgres::Error) -> Option<Error> {
    use tokio_postgres::error::SqlState;
    let db = error.as_db_error()?;
    let code = db.code();
    // "Key (tenant_id, status_id)=(1, 7) is still referenced from table "disposition_map"."
    let referencing = || {
        db.detail()
            .and_then(|d| d.split("referenced from table ").nth(1))
            .map(|t| t.trim_end_matches('.').trim_matches('"').replace('_', " "))
    };
    // A constraint is named table_column_kind: the column is what the caller wrote.
    let field = || {
        db.column().map(str::to_owned).or_else(|| {
            let constraint = db.constraint()?;
            let table = db.table().unwrap_or_default();
            let rest = constraint.strip_prefix(table)?.trim_start_matches('_');
            let column =
                ["_check", "_fkey", "_key", "_not_null"].iter().find_map(|s| rest.strip_suffix(s))?;
            Some(column.to_owned())
        })
    };
    let integrity = |field: Option<String>, message: String, conflict: bool| {
        Some(Error::Integrity { field, message, conflict })
    };
    match code {
        c if *c == SqlState::FOREIGN_KEY_VIOLATION => match referencing() {
            Some(user) => {
                integrity(field(), format!("it is still used by {user}: remove or change those first"), true)
            }
            None => integrity(
                field(),
                format!("{} names something that does not exist", field().unwrap_or("a value".into())),
                false,
            ),
        },
        c if *c == SqlState::UNIQUE_VIOLATION => {
            integrity(field(), format!("{} is already taken", field().unwrap_or("the value".into())), true)
        }
        c if *c == SqlState::CHECK_VIOLATION || *c == SqlState::NOT_NULL_VIOLATION => integrity(
            field(),
            format!("{} is not an accepted value ({})", field().unwrap_or("a value".into()), db.message()),
            false,
        ),
        c if c.code().starts_with("22") => {
            integrity(field(), format!("a value cannot be stored: {}", db.message()), false)
        }
        _ => None,
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => Error::Pool(other.to_string()),
        }
    }
}

/// Turns a unique violation on a named constraint into a domain error; anything else
/// stays a database error.
pub(crate) fn map_unique_violation(
    error: tokio_postgres::Error,
    constraint: &str,
    entity: &'static str,
    key: &str,
) -> Error {
    if is_unique_violation(&error, constraint) {
        Error::AlreadyExists { entity, key: key.to_owned() }
    } else {
        error.into()
    }
}

pub(crate) fn is_unique_violation(error: &tokio_postgres::Error, constraint: &str) -> bool {
    error.as_db_error().is_some_and(|db| {
        db.code() == &tokio_postgres::error::SqlState::UNIQUE_VIOLATION && db.constraint() == Some(constraint)
    })
}

/// Whether `error` is a unique violation of `table`'s (or one of its partitions')
/// constraint whose name ends in `suffix`.
pub(crate) fn is_unique_violation_of(error: &tokio_postgres::Error, table: &str, suffix: &str) -> bool {
    error.as_db_error().is_some_and(|db| {
        db.code() == &tokio_postgres::error::SqlState::UNIQUE_VIOLATION
            && db.constraint().is_some_and(|c| c.starts_with(table) && c.ends_with(suffix))
    })
}

/// Whether `error` is a check constraint refusing a row.
pub(crate) fn is_check_violation(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&tokio_postgres::error::SqlState::CHECK_VIOLATION)
}

/// Whether `error` says the table does not exist (a database not migrated yet).
pub(crate) fn is_undefined_table(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE)
}

/// Whether `error` says the database already exists (another process created it first).
pub(crate) fn is_duplicate_database(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE)
}
