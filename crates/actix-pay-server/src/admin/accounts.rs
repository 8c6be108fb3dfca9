//! Operator accounts from the command line: `librement-server operator add|list|remove`. The console has
//! no page to create operators: whoever can run the binary on the server's database can, nobody else.

use std::io::BufRead;

use chrono::Utc;
use librement_pay::accounts::{Email, Password, PasswordHashing};

use crate::store::{Role, ServerStore};

/// Why an operator command failed: one line, never the password.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// The address is not an e-mail address.
    #[error("{0:?} is not an e-mail address")]
    BadEmail(String),
    /// The password read on standard input cannot be used.
    #[error("password: {0}")]
    BadPassword(String),
    /// An operator with this address exists.
    #[error("an operator {0} exists already")]
    Exists(String),
    /// No operator has this address.
    #[error("no operator {0}")]
    NoSuchOperator(String),
    /// The database failed.
    #[error("database: {0}")]
    Store(#[from] payment_buttons::store::StoreError),
}

/// The normalized (trimmed, lower-case) form of an operator's address.
pub fn normalize_email(email: &str) -> Result<String, OperatorError> {
    Email::parse(email)
        .map(|e| e.as_str().to_owned())
        .map_err(|_| OperatorError::BadEmail(email.trim().chars().take(100).collect()))
}

/// Reads the password: one line of `input`, without its line ending.
pub fn read_password(input: &mut impl BufRead) -> Result<String, OperatorError> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| OperatorError::BadPassword(format!("cannot read standard input: {e}")))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err(OperatorError::BadPassword(
            "none on standard input (give it as one line: `printf '%s\\n' \"$PASSWORD\" | librement-server operator add ...`)"
                .into(),
        ));
    }
    Ok(password)
}

/// `operator add`: checks the password as a Librement user's (length, strength), hashes it with argon2id
/// and stores the operator.
pub async fn add(store: &ServerStore, email: &str, role: Role, password: String) -> Result<(), OperatorError> {
    let email = normalize_email(email)?;
    let password = Password::new(password);
    let personal = email.clone();
    let hash = tokio::task::spawn_blocking(move || {
        password
            .check_new(&[personal.as_str()])
            .map_err(|e| OperatorError::BadPassword(e.to_string()))?;
        let hashing = PasswordHashing::owasp().map_err(|e| OperatorError::BadPassword(e.to_string()))?;
        hashing
            .hash(&password)
            .map_err(|e| OperatorError::BadPassword(e.to_string()))
    })
    .await
    .map_err(|e| OperatorError::BadPassword(format!("hashing failed: {e}")))??;
    if store.add_operator(&email, role, &hash, Utc::now()).await? {
        Ok(())
    } else {
        Err(OperatorError::Exists(email))
    }
}

/// `operator list`: one line per operator, `EMAIL ROLE ADDED`.
pub async fn list(store: &ServerStore) -> Result<Vec<String>, OperatorError> {
    Ok(store
        .operators()
        .await?
        .into_iter()
        .map(|o| {
            format!(
                "{}\t{}\t{}",
                o.email,
                o.role.as_str(),
                o.created_at.format("%Y-%m-%d %H:%M UTC")
            )
        })
        .collect())
}

/// `operator remove`: removes the operator and ends its sessions.
pub async fn remove(store: &ServerStore, email: &str) -> Result<(), OperatorError> {
    let email = normalize_email(email)?;
    if store.remove_operator(&email).await? {
        Ok(())
    } else {
        Err(OperatorError::NoSuchOperator(email))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_the_first_line_without_its_ending() {
        let mut input = std::io::Cursor::new("correct horse battery staple\r\nsecond line\n");
        assert_eq!(read_password(&mut input).unwrap(), "correct horse battery staple");
        assert!(read_password(&mut std::io::Cursor::new("\n")).is_err());
    }

    #[test]
    fn addresses_are_normalized_and_checked() {
        assert_eq!(normalize_email("  Ops@Example.ORG ").unwrap(), "ops@example.org");
        assert!(normalize_email("not an address").is_err());
    }
}
