//! Key files (`docs/PROTOCOL.md` section 4): reading with clear errors,
//! writing with mode 0600.

use crate::error::Error;
use fernchat_core::fernet::KeySet;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Where the client and the tools look for the key unless told.
pub const DEFAULT_KEY_FILE: &str = "chat.key";
/// The most bytes read from a key file: four keys with generous comments.
pub const MAX_KEY_FILE: u64 = 64 * 1024;
/// The UTF-8 byte-order mark some editors put first; it is skipped.
const BOM: &[u8] = "\u{FEFF}".as_bytes();

/// Reads and parses a key file, warning when others can read it.
pub fn load(path: &Path) -> Result<KeySet, Error> {
    let text = read_bounded(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => Error::NoKeyFile(path.to_owned()),
        _ => Error::ReadKeyFile {
            path: path.to_owned(),
            source,
        },
    })?;
    if text.len() as u64 > MAX_KEY_FILE {
        return Err(Error::KeyFileTooLarge {
            path: path.to_owned(),
        });
    }
    warn_if_readable_by_others(path);
    let text = text.strip_prefix(BOM).unwrap_or(&text);
    KeySet::parse_file(text).map_err(|source| Error::BadKeyFile {
        path: path.to_owned(),
        source,
    })
}

/// Reads at most one byte more than [`MAX_KEY_FILE`]. The file is opened
/// without blocking, so that a FIFO with no writer reads as empty instead
/// of waiting forever; reads then block as usual (a pipe whose writer is
/// there, as `--key-file <(...)` gives, is read to its end).
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    let nonblock = rustix::fs::OFlags::NONBLOCK;
    let file = File::options()
        .read(true)
        .custom_flags(i32::try_from(nonblock.bits()).unwrap_or_default())
        .open(path)?;
    let flags = rustix::fs::fcntl_getfl(&file)?;
    rustix::fs::fcntl_setfl(&file, flags - nonblock)?;
    let mut text = Vec::new();
    file.take(MAX_KEY_FILE + 1).read_to_end(&mut text)?;
    Ok(text)
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
