//! The server's signing key: configured, or generated once and kept in the data directory.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use rand::RngCore;

use super::Config;
use super::error::ConfigError;
use super::secret::{Secret, SecretKey};

/// The file, under the data directory, that keeps a generated key.
pub const SECRET_KEY_FILE: &str = "secret_key";

/// The key that signs buttons, sessions and CSRF tokens.
///
/// `server.secret_key` when configured. Otherwise a key generated on first start (32 random bytes, hex) and
/// kept in `data_dir/secret_key` (mode 0600), so that buttons stay valid across restarts; each use logs a
/// warning. A generated key is refused when any gateway runs in a real mode: real money needs a key the
/// operator set, backed up and can rotate.
///
/// ```
/// # use actix_pay_server::config::{Config, resolve_secret_key};
/// let dir = std::env::temp_dir().join(format!("doc-secret-key-{}", std::process::id()));
/// let config = Config::load(None, Vec::new()).unwrap();
/// let first = resolve_secret_key(&config, &dir).unwrap();
/// let again = resolve_secret_key(&config, &dir).unwrap();
/// assert!(first.is_generated());
/// assert_eq!(first.as_bytes(), again.as_bytes());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn resolve_secret_key(config: &Config, data_dir: &Path) -> Result<SecretKey, ConfigError> {
    if let Some(key) = &config.server.secret_key {
        return Ok(SecretKey::new(key.clone(), false));
    }
    if config.any_real_mode() {
        return Err(ConfigError::missing(
            "server.secret_key",
            "a gateway runs in a real mode, which needs a key you set (in the file or PAY_SERVER_SECRET_KEY), not a generated one",
        ));
    }
    let path = data_dir.join(SECRET_KEY_FILE);
    if let Some(key) = read_key(&path)? {
        tracing::warn!(
            path = %path.display(),
            "server.secret_key is not set: using the generated key kept in this file; set server.secret_key before any real use"
        );
        return Ok(SecretKey::new(key, true));
    }
    let key = generate_key(data_dir, &path)?;
    tracing::warn!(
        path = %path.display(),
        "server.secret_key is not set: GENERATED A NEW KEY and kept it in this file; buttons signed with it break if the file is lost; set server.secret_key before any real use"
    );
    Ok(SecretKey::new(key, true))
}

fn read_key(path: &Path) -> Result<Option<Secret>, ConfigError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Io {
                path: path.to_owned(),
                action: "cannot read",
                source,
            });
        }
    };
    let key = text.trim();
    if key.len() < 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ConfigError::invalid(
            path.display().to_string(),
            "holds no usable key (64 hexadecimal characters); delete it to generate a new one",
        ));
    }
    warn_if_readable_by_others(path);
    Ok(Some(Secret::new(key)))
}

/// Writes a new key atomically: a private temporary file, then a hard link to the final name, which fails if
/// another process got there first (its key is then the one used).
fn generate_key(data_dir: &Path, path: &Path) -> Result<Secret, ConfigError> {
    fs::create_dir_all(data_dir).map_err(|source| ConfigError::Io {
        path: data_dir.to_owned(),
        action: "cannot create",
        source,
    })?;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let key = hex::encode(bytes);
    let temporary = data_dir.join(format!(
        ".{SECRET_KEY_FILE}.{}.{:016x}",
        std::process::id(),
        rand::rng().next_u64()
    ));
    let written = write_private(&temporary, &key).and_then(|()| fs::hard_link(&temporary, path));
    // The temporary name is only a stepping stone; failing to remove it changes nothing for the key.
    let _ = fs::remove_file(&temporary);
    match written {
        Ok(()) => Ok(Secret::new(key)),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => read_key(path)?.ok_or_else(|| ConfigError::Io {
            path: path.to_owned(),
            action: "cannot read",
            source: std::io::Error::from(ErrorKind::NotFound),
        }),
        Err(source) => Err(ConfigError::Io {
            path: PathBuf::from(path),
            action: "cannot create",
            source,
        }),
    }
}

fn write_private(path: &Path, key: &str) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(key.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "the secret key file is readable by other users: chmod 600 it");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
