//! The one error type of configuration loading.

use std::path::PathBuf;

/// Why the configuration cannot be used. Start-up stops on any of these.
///
/// `Display` is always one line that starts with the setting at fault — its dotted key (`server.bind`),
/// or the environment variable (`PAY_SERVER_BIND`) when the value came from the environment — and says what is
/// wrong. Secret values are never part of the message.
///
/// ```
/// use actix_pay_server::config::ConfigError;
/// let e = ConfigError::Unknown { key: "PAY_SERVER_BINDD".into() };
/// assert_eq!(e.to_string(), "PAY_SERVER_BINDD: no such setting");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key of the file or a `PAY_*` variable that matches no setting.
    #[error("{key}: no such setting")]
    Unknown {
        /// The key as written (`server.bindd`) or the variable's name.
        key: String,
    },
    /// A setting that must be given in this configuration is absent.
    #[error("{key}: missing; {why}")]
    Missing {
        /// The setting.
        key: String,
        /// Why it is needed here, and what to write.
        why: String,
    },
    /// A value that cannot be used.
    #[error("{key}: {problem}")]
    Invalid {
        /// The setting.
        key: String,
        /// What is wrong, with the value quoted only when it is not a secret.
        problem: String,
    },
    /// The configuration file is not valid TOML.
    #[error("{file}:{line}:{column}: not valid TOML: {message}")]
    Syntax {
        /// The file as named on the command line.
        file: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's explanation, on one line.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {action}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was attempted (`cannot read`, `cannot create`).
        action: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl ConfigError {
    /// An [`ConfigError::Invalid`] for `key`.
    pub(crate) fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            problem: problem.into(),
        }
    }

    /// A [`ConfigError::Missing`] for `key`.
    pub(crate) fn missing(key: impl Into<String>, why: impl Into<String>) -> Self {
        ConfigError::Missing {
            key: key.into(),
            why: why.into(),
        }
    }

    /// A syntax error at byte `offset` of `text`, located as line and column.
    pub(crate) fn syntax(file: &str, text: &str, offset: usize, message: &str) -> Self {
        let before = text.get(..offset.min(text.len())).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
        ConfigError::Syntax {
            file: file.to_owned(),
            line,
            column,
            message,
        }
    }
}
