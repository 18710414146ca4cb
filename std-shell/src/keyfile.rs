//! Key files (`docs/PROTOCOL.md` section 4): reading with clear errors,
//! writing with mode 0600.

use crate::error::Error;
use fernchat_core::fernet::KeySet;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Where the client and the tools look for the key unless told.
pub const DEFAULT_KEY_FILE: &str = "chat.key";

/// Reads and parses a key file, warning when others can read it.
pub fn load(path: &Path) -> Result<KeySet, Error> {
    let text = std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => Error::NoKeyFile(path.to_owned()),
        _ => Error::ReadKeyFile {
            path: path.to_owned(),
            source,
        },
    })?;
    warn_if_readable_by_others(path);
    KeySet::parse_file(&text).map_err(|source| Error::BadKeyFile {
        path: path.to_owned(),
        source,
    })
}

fn warn_if_readable_by_others(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            eprintln!(
                "fernchat: warning: key file {} is readable by others (mode {:o}); run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
}

/// Creates `path` with mode 0600 holding `line`; refuses to replace an
/// existing file unless `force`.
pub fn create(path: &Path, line: &[u8], force: bool) -> Result<(), Error> {
    let mut options = File::options();
    options.write(true).mode(0o600);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::AlreadyExists => Error::KeyFileExists(path.to_owned()),
        _ => Error::CreateFile {
            path: path.to_owned(),
            source,
        },
    })?;
    // A forced overwrite keeps the old mode; make sure it is private.
    let private = std::fs::Permissions::from_mode(0o600);
    file.set_permissions(private)
        .and_then(|()| file.write_all(line))
        .and_then(|()| file.sync_all())
        .map_err(|source| Error::WriteFile {
            path: path.to_owned(),
            source,
        })
}
