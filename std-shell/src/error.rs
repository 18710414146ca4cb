//! How a command fails: one typed error, shown as one line, with an exit
//! code that says whose fault it was.

use fernchat_core::fernet::{BufferTooSmall, DecryptError, KeyFileError};
use fernchat_core::frame::MAX_PLAINTEXT;
use fernchat_core::message::NickError;
use fernchat_core::room::Notice;
use std::io;
use std::path::PathBuf;

/// Everything a `fernchat` command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key file is missing.
    #[error(
        "no key file at {}: make one with `fernchat keygen -o {}` and share it safely",
        .0.display(),
        .0.display()
    )]
    NoKeyFile(PathBuf),
    /// The key file could not be read.
    #[error("cannot read key file {}: {source}", path.display())]
    ReadKeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The key file holds no valid key set.
    #[error("key file {}: {source}", path.display())]
    BadKeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong in it.
        source: KeyFileError,
    },
    /// Keygen would replace a key file.
    #[error("{} already exists; pass --force to replace it (the old key is then lost)", .0.display())]
    KeyFileExists(PathBuf),
    /// A file could not be created.
    #[error("cannot create {}: {source}", path.display())]
    CreateFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The operating system gave no random bytes.
    #[error("no random bytes from the operating system: {0}")]
    NoRandomness(String),
    /// `--name` is not a valid nick.
    #[error("bad --name {name:?}: {source}")]
    BadNick {
        /// What was given.
        name: String,
        /// Why it is refused.
        source: NickError,
    },
    /// The relay cannot listen where it was asked to.
    #[error("cannot listen on {addr}: {source}{}", listen_hint(source))]
    Listen {
        /// The address asked for.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// The relay cannot serve `--metrics` where it was asked to.
    #[error("cannot serve metrics on {addr}: {source}{}", metrics_hint(source))]
    MetricsListen {
        /// The address asked for.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// The client cannot reach the relay.
    #[error("cannot connect to {addr}: {source} (is `fernchat server` running there?)")]
    Connect {
        /// The address asked for.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// `fernchat encrypt` was given more than a frame carries.
    #[error("the plaintext is over {MAX_PLAINTEXT} bytes, the most one frame carries")]
    PlaintextTooLong,
    /// A token could not be written (a buffer too small: a bug).
    #[error("cannot encrypt: {0}")]
    Encrypt(BufferTooSmall),
    /// `fernchat decrypt` was given a token that does not open.
    #[error("invalid token: {0}")]
    InvalidToken(DecryptError),
    /// Standard input failed.
    #[error("cannot read stdin: {0}")]
    Stdin(io::Error),
    /// Standard output failed.
    #[error("cannot write stdout: {0}")]
    Stdout(io::Error),
    /// The terminal could not be used.
    #[error("cannot use the terminal: {0}")]
    Terminal(String),
    /// The connection to the relay failed.
    #[error("lost the server: {0}")]
    LostServer(io::Error),
    /// The relay closed the connection.
    #[error("the server closed the connection")]
    ServerClosed,
    /// The relay sent a notice and closed the connection.
    #[error("the relay closed the connection: {0}")]
    RelayNotice(Notice),
    /// Typed lines never reached the relay.
    #[error("{0} typed line(s) not delivered: the relay was away")]
    Undelivered(usize),
    /// The key file is larger than any key file.
    #[error("key file {} is over {} bytes: not a key file", path.display(), crate::keyfile::MAX_KEY_FILE)]
    KeyFileTooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The NATS bridge's options are wrong.
    #[error("{0}")]
    Nats(String),
    /// A pickled key file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadPickle {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file is not a pickled `Fernet` (or would run code if unpickled).
    #[error("{} is not a pickled Fernet key: {source}", path.display())]
    BadPickle {
        /// The file.
        path: PathBuf,
        /// What is wrong in it.
        source: crate::pickle::PickleError,
    },
    /// A TLS certificate or key file is missing or unusable.
    #[error("TLS file {}: {why}", path.display())]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The TLS handshake with the relay failed.
    #[error("TLS with {addr} failed: {source}{}", tls_hint(source))]
    Tls {
        /// The relay's address.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// A certificate could not be made.
    #[error("cannot make a certificate: {0}")]
    Certificate(String),
    /// The relay's event loop could not start or failed.
    #[error("event loop failed: {0}")]
    EventLoop(io::Error),
}

impl Error {
    /// 2 for bad input or setup (the user can fix it and run again), 1 for
    /// a failure while running.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::NoKeyFile(_)
            | Error::ReadKeyFile { .. }
            | Error::BadKeyFile { .. }
            | Error::KeyFileTooLarge { .. }
            | Error::KeyFileExists(_)
            | Error::CreateFile { .. }
            | Error::BadNick { .. }
            | Error::Listen { .. }
            | Error::MetricsListen { .. }
            | Error::Nats(_)
            | Error::Connect { .. }
            | Error::PlaintextTooLong
            | Error::ReadPickle { .. }
            | Error::BadPickle { .. }
            | Error::TlsFile { .. }
            | Error::Tls { .. }
            | Error::Certificate(_) => 2,
            Error::WriteFile { .. }
            | Error::NoRandomness(_)
            | Error::Encrypt(_)
            | Error::InvalidToken(_)
            | Error::Stdin(_)
            | Error::Stdout(_)
            | Error::Terminal(_)
            | Error::LostServer(_)
            | Error::ServerClosed
            | Error::RelayNotice(_)
            | Error::Undelivered(_)
            | Error::EventLoop(_) => 1,
        }
    }
}

fn listen_hint(error: &io::Error) -> &'static str {
    if error.kind() == io::ErrorKind::AddrInUse {
        " (another server is running there? pick another address)"
    } else {
        ""
    }
}

fn metrics_hint(error: &io::Error) -> &'static str {
    if error.kind() == io::ErrorKind::AddrInUse {
        " (something else listens there; pick another port with --metrics)"
    } else {
        ""
    }
}

/// What to try when a TLS handshake fails.
fn tls_hint(error: &io::Error) -> &'static str {
    let rustls_error = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(_)) => {
            " (a self-signed relay? trust its certificate with --ca FILE)"
        }
        Some(rustls::Error::InvalidMessage(_)) => {
            " (the relay does not speak TLS there: a plain port? then drop --tls)"
        }
        _ if matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::UnexpectedEof
        ) =>
        {
            " (no TLS answer: a plain port? then drop --tls)"
        }
        _ => "",
    }
}
