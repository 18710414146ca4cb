//! `fernchat`: end-to-end encrypted group chat on a desktop.
//!
//! A thin shell over `fernchat-core`: this binary owns sockets, the
//! terminal, files and flags; every protocol decision is the core's.

mod cert;
mod client;
mod clock;
mod error;
mod key_command;
mod keyfile;
mod keygen;
mod pem_text;
mod pickle;
mod server;
mod tls_trust;
mod tokens;

use clap::{Parser, Subcommand};

/// End-to-end encrypted group chat over TCP, in Fernet tokens that Python's
/// `cryptography.fernet` reads too.
#[derive(Parser)]
#[command(name = "fernchat", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a new random key (44 characters, as Python's Fernet.generate_key()).
    Keygen(keygen::KeygenArgs),
    /// Import or export the original Python chat's key (a pickled Fernet).
    Key(key_command::KeyArgs),
    /// Run the relay: forward every frame to every other client.
    Server(server::ServerArgs),
    /// Join a room: send what you type, show what others say.
    Client(client::ClientArgs),
    /// Encrypt all of stdin into one token (printed with a line feed).
    Encrypt(tokens::EncryptArgs),
    /// Decrypt one token from stdin; write the plaintext bytes to stdout.
    Decrypt(tokens::DecryptArgs),
    /// Make a self-signed TLS certificate and key, to try `server --tls-cert`.
    Cert(cert::CertArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen(args) => keygen::run(&args),
        Command::Key(args) => key_command::run(&args),
        Command::Server(args) => server::run(&args),
        Command::Client(args) => client::run(&args),
        Command::Encrypt(args) => tokens::encrypt(&args),
        Command::Decrypt(args) => tokens::decrypt(&args),
        Command::Cert(args) => cert::run(&args),
    };
    if let Err(error) = result {
        eprintln!("fernchat: {error}");
        std::process::exit(error.exit_code());
    }
}
