//! Running the mps2-an385 firmware under QEMU, and the std `fernchat`
//! binary, for the QEMU tests. Every process is killed when its guard drops,
//! pass or fail, and every wait has a deadline.

use fernchat_core::fernet::Key;
use fernchat_tests::process::{Guard, expect_line, lines};
use fernchat_tests::qemu;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long any one thing may take: QEMU boots in well under a second, but
/// CI machines are shared.
pub use fernchat_tests::std_client::WAIT;

/// The firmware images the QEMU tests boot (`cargo xtask firmware` builds them).
const IMAGES: [&str; 3] = ["fernchat-server", "fernchat-client", "fernchat-overflow"];

/// What the QEMU tests need: QEMU, the firmware images and the std binary.
pub struct Setup {
    /// The directory holding the [`IMAGES`].
    pub images: PathBuf,
    /// The std `fernchat` binary.
    pub fernchat: PathBuf,
}

/// The setup. A missing part fails the test, with how to get it, as a
/// missing Python `cryptography` fails the interop tests: a test that cannot
/// run must not pass. `cargo xtask ci` installs QEMU and builds everything
/// first.
pub fn setup() -> Setup {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let images = std::env::var_os("FERNCHAT_FIRMWARE_DIR").map_or_else(
        || root.join("embedded-shell/mps2-an385/target/thumbv7m-none-eabi/release"),
        PathBuf::from,
    );
    // `cargo test --workspace` builds the std binary next to the test binaries' folder.
    let fernchat = std::env::var_os("FERNCHAT_BIN").map_or_else(
        || {
            let exe = std::env::current_exe().expect("test binary path");
            exe.parent()
                .and_then(Path::parent)
                .map(|dir| dir.join("fernchat"))
                .unwrap_or_default()
        },
        PathBuf::from,
    );
    let qemu = Command::new("qemu-system-arm").arg("--version").output();
    let missing = if !qemu.is_ok_and(|out| out.status.success()) {
        "qemu-system-arm (apt-get install -y qemu-system-arm)".to_owned()
    } else if !IMAGES.iter().all(|image| images.join(image).exists()) {
        format!(
            "the firmware images in {} (cargo xtask firmware)",
            images.display()
        )
    } else if !fernchat.exists() {
        format!("{} (cargo build -p fernchat)", fernchat.display())
    } else {
        return Setup { images, fernchat };
    };
    panic!("the QEMU tests need {missing}; `cargo xtask ci` sets it all up");
}

/// A free TCP port on 127.0.0.1 (free when asked; QEMU binds it just after).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A new random key, in a key file of its own (mode 0600); gives the file,
/// the key and its text.
pub fn key_file(name: &str) -> (PathBuf, Key, String) {
    let key = Key::from_bytes(rand::random());
    let text = String::from_utf8(key.encode().to_vec()).expect("base64 is ASCII");
    let dir = std::env::temp_dir().join(format!("fernchat-qemu-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("make temp dir");
    let path = dir.join("chat.key");
    std::fs::write(&path, format!("{text}\n")).expect("write key file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    (path, key, text)
}

/// A firmware image running on QEMU's mps2-an385, its console on a channel.
pub struct Machine {
    guard: Guard,
    console: mpsc::Receiver<String>,
}

impl Machine {
    /// Boots `image` with the firmware arguments `args` on QEMU's user
    /// network, with `hostfwd` (e.g. `tcp:127.0.0.1:PORT-:10101`) if given.
    pub fn boot(image: &Path, args: &[&str], hostfwd: Option<String>) -> Machine {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let nic = match hostfwd {
            Some(rule) => format!("user,model=lan9118,hostfwd={rule}"),
            None => "user,model=lan9118".to_owned(),
        };
        let mut child = qemu::command(image, &args, &nic)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start qemu-system-arm");
        let console = lines(child.stdout.take().expect("qemu stdout"));
        Machine {
            guard: Guard(child),
            console,
        }
    }

    /// Waits for a console line containing `needle`; gives the line.
    pub fn expect(&self, needle: &str) -> String {
        expect_line(&self.console, "firmware", needle, WAIT)
    }

    /// Every console line printed until `done` holds for the lines so far
    /// (at most [`WAIT`]), and those printed within `settle` after.
    pub fn lines_until(&self, done: impl Fn(&[String]) -> bool, settle: Duration) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut lines = Vec::new();
        while !done(&lines) && Instant::now() < deadline {
            if let Ok(line) = self.console.recv_timeout(Duration::from_millis(100)) {
                lines.push(line);
            }
        }
        let quiet = Instant::now() + settle;
        while let Ok(line) = self
            .console
            .recv_timeout(quiet.saturating_duration_since(Instant::now()))
        {
            lines.push(line);
        }
        lines
    }

    /// Waits (at most [`WAIT`]) for QEMU to exit; gives the firmware's exit status.
    pub fn exit_code(&mut self) -> Option<i32> {
        self.guard.wait_exit(WAIT).and_then(|status| status.code())
    }
}
