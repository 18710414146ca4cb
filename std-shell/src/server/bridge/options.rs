//! The `--nats` flags: where the bridge connects, the room's subject, and
//! the authentication and TLS options passed through to `async-nats`.

use crate::error::Error;
use async_nats::{ConnectOptions, ServerAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The longest wait between two reconnect attempts.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(2);

/// Options of the NATS bridge (`docs/PROTOCOL.md` section 12).
#[derive(clap::Args, Clone, Debug)]
pub struct NatsArgs {
    /// Bridge the room over NATS: the servers of one NATS cluster
    /// (nats://host:port, comma-separated; user:password@ in a URL works
    /// too). The relay publishes the frames its clients send and forwards
    /// the other relays' frames to its clients. It starts even while NATS
    /// is down, and reconnects and fails over by itself.
    #[arg(long, value_name = "URL[,URL...]", value_delimiter = ',')]
    pub nats: Vec<String>,
    /// The room: its frames go on NATS subject `fernchat.<ROOM>`. Letters,
    /// digits, `-` and `_`, at most 64.
    #[arg(long, default_value = "lobby", value_name = "ROOM", value_parser = parse_room)]
    pub room: String,
    /// NATS credentials file (a user JWT and NKey seed, as `nsc` writes).
    #[arg(long, value_name = "FILE", requires = "nats")]
    pub nats_creds: Option<PathBuf>,
    /// NATS user name (with --nats-password).
    #[arg(long, value_name = "USER", requires_all = ["nats", "nats_password"])]
    pub nats_user: Option<String>,
    /// NATS password (with --nats-user). Better in the environment
    /// variable, which other users cannot read as they can a command line.
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "FERNCHAT_NATS_PASSWORD",
        hide_env_values = true,
        requires = "nats_user"
    )]
    pub nats_password: Option<String>,
    /// NATS authentication token. Better in the environment variable, which
    /// other users cannot read as they can a command line.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "FERNCHAT_NATS_TOKEN",
        hide_env_values = true,
        requires = "nats"
    )]
    pub nats_token: Option<String>,
    /// Trust this CA certificate (PEM) for the NATS servers' TLS, and no
    /// other; checked at start.
    #[arg(long, value_name = "FILE", requires = "nats")]
    pub nats_tls_ca: Option<PathBuf>,
    /// Insist on TLS to the NATS servers.
    #[arg(long, requires = "nats")]
    pub nats_tls: bool,
}

impl NatsArgs {
    /// True when the room is bridged.
    pub fn bridged(&self) -> bool {
        !self.nats.is_empty()
    }

    /// The subject the room's frames go on.
    pub fn subject(&self) -> String {
        format!("fernchat.{}", self.room)
    }

    /// The servers to connect to.
    pub fn servers(&self) -> Result<Vec<ServerAddr>, Error> {
        self.nats
            .iter()
            .map(|url| {
                url.trim()
                    .parse::<ServerAddr>()
                    .map_err(|e| Error::Nats(format!("bad --nats URL {url:?}: {e}")))
            })
            .collect()
    }

    /// The client's options: the flags', plus echo suppressed, the first
    /// connection retried in the background and reconnects without end.
    pub fn connect_options(&self) -> Result<ConnectOptions, Error> {
        let mut options = match &self.nats_creds {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Error::Nats(format!("cannot read --nats-creds {}: {e}", path.display()))
                })?;
                ConnectOptions::with_credentials(&text)
                    .map_err(|e| Error::Nats(format!("bad --nats-creds {}: {e}", path.display())))?
            }
            None => ConnectOptions::new(),
        };
        if let (Some(user), Some(password)) = (&self.nats_user, &self.nats_password) {
            options = options.user_and_password(user.clone(), password.clone());
        }
        if let Some(token) = &self.nats_token {
            options = options.token(token.clone());
        }
        if let Some(ca) = &self.nats_tls_ca {
            let trust = crate::tls_trust::client_config(Some(ca))?;
            options = options.tls_client_config(Arc::unwrap_or_clone(trust));
        }
        if self.nats_tls {
            options = options.require_tls(true);
        }
        Ok(options
            .name("fernchat relay")
            .no_echo()
            .retry_on_initial_connect()
            .max_reconnects(None)
            .reconnect_delay_callback(|attempts| {
                let millis = 100u64.saturating_mul(u64::try_from(attempts).unwrap_or(u64::MAX));
                Duration::from_millis(millis).min(MAX_RECONNECT_DELAY)
            }))
    }
}

/// A room name that is one NATS subject token and part of a stream name.
fn parse_room(room: &str) -> Result<String, String> {
    let valid = (1..=64).contains(&room.len())
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(room.to_owned())
    } else {
        Err("letters, digits, `-` and `_` only, 1 to 64 of them".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        nats: NatsArgs,
    }

    fn parse(args: &[&str]) -> Result<NatsArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("fernchat").chain(args.iter().copied()))
            .map(|cli| cli.nats)
    }

    #[test]
    fn test_room_is_one_subject_token() {
        let args = parse(&["--nats", "nats://a:4222,nats://b:4222", "--room", "ops-2_b"]).unwrap();
        assert_eq!(args.subject(), "fernchat.ops-2_b");
        assert_eq!(args.servers().unwrap().len(), 2);
        assert_eq!(parse(&[]).unwrap().subject(), "fernchat.lobby");
        assert!(!parse(&[]).unwrap().bridged());
        for bad in ["a.b", "a*", ">", "", "a b", &"x".repeat(65)] {
            assert!(parse(&["--room", bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn test_auth_needs_a_server_and_both_halves() {
        assert!(parse(&["--nats-token", "t"]).is_err());
        assert!(parse(&["--nats", "nats://a:4222", "--nats-user", "u"]).is_err());
        let args = parse(&[
            "--nats",
            "nats://a:4222",
            "--nats-user",
            "u",
            "--nats-password",
            "p",
        ]);
        assert!(args.unwrap().connect_options().is_ok());
    }

    #[test]
    fn test_a_missing_or_junk_ca_or_creds_file_is_refused_at_start() {
        let dir = std::env::temp_dir().join(format!("fernchat-nats-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk");
        std::fs::write(&junk, "-----BEGIN NATS USER JWT-----\nnot a jwt\n").unwrap();
        let missing = dir.join("missing");
        let cases = [
            ("--nats-tls-ca", &junk, "(NATS USER JWT) has no END line"),
            ("--nats-tls-ca", &missing, "No such file"),
            ("--nats-creds", &junk, "bad --nats-creds"),
            ("--nats-creds", &missing, "cannot read --nats-creds"),
        ];
        for (flag, file, why) in cases {
            let file = file.to_str().unwrap();
            let args = parse(&["--nats", "nats://a:4222", flag, file]).unwrap();
            let error = args.connect_options().expect_err("refused").to_string();
            assert!(error.contains(why) && error.contains(file), "{error}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
