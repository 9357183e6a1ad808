use citius_domain::Invalid;
use citius_store::DbError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("not found")]
    NotFound,
    #[error("sign in required")]
    Unauthorized,
    #[error("your role does not allow this")]
    Forbidden,
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// A service Citius relies on (a mail relay, a provider) failed; trying later may work.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] DbError),
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => AppError::NotFound,
            DbError::Conflict(what) => AppError::Conflict(format!("already exists ({what})")),
            other => AppError::Internal(other),
        }
    }
}

impl AppError {
    /// See [`DbError::lost_to_contention`].
    pub(crate) fn lost_to_contention(&self) -> bool {
        matches!(self, AppError::Internal(e) if e.lost_to_contention())
    }

    /// Whether a write that failed with this error certainly took no effect (see
    /// [`DbError::took_no_effect`]).
    pub(crate) fn took_no_effect(&self) -> bool {
        match self {
            AppError::Internal(e) => e.took_no_effect(),
            AppError::Unavailable(_) => false,
            _ => true,
        }
    }
}

/// Transaction commits report sqlx errors; they map like any other store error.
impl From<citius_store::SqlxError> for AppError {
    fn from(e: citius_store::SqlxError) -> Self {
        AppError::from(DbError::from(e))
    }
}

pub type AppResult<T> = Result<T, AppError>;
