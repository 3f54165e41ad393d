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
        if is_unavailable(&error) { Error::Unavailable(error) } else { Error::Database(error) }
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
