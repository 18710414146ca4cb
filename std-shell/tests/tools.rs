//! keygen, encrypt and decrypt: agreement with Python's `cryptography` both
//! ways, and one clear line with exit code 2 for every bad input.

use fernchat_tests::python::python;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fernchat-tools-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fernchat(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that fails early exits without reading its input.
    match child.stdin.take().unwrap().write_all(stdin) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write stdin: {e}"),
        _ => {}
    }
    child.wait_with_output().unwrap()
}

fn py(code: &str, key: &str, stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new(python())
        .args(["-c", code, key])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python failed");
    out.stdout
}

const PY_DECRYPT: &str = "import sys; from cryptography.fernet import Fernet; \
    sys.stdout.buffer.write(Fernet(sys.argv[1]).decrypt(sys.stdin.buffer.read().strip()))";
const PY_ENCRYPT: &str = "import sys; from cryptography.fernet import Fernet; \
    print(Fernet(sys.argv[1]).encrypt(sys.stdin.buffer.read()).decode())";

#[test]
fn encrypt_and_decrypt_agree_with_python() {
    let dir = temp_dir("agree");
    assert!(fernchat(&dir, &["keygen"], b"").status.success());
    let key = std::fs::read_to_string(dir.join("chat.key"))
        .unwrap()
        .trim()
        .to_owned();
    for plaintext in [&b""[..], b"hello", &[0xff; 17], &[b'z'; 3007]] {
        let ours = fernchat(&dir, &["encrypt"], plaintext);
        assert!(ours.status.success());
        assert!(ours.stdout.ends_with(b"\n"));
        assert_eq!(py(PY_DECRYPT, &key, &ours.stdout), plaintext);

        let theirs = py(PY_ENCRYPT, &key, plaintext);
        let opened = fernchat(&dir, &["decrypt", "--ttl", "60"], &theirs);
        assert!(opened.status.success());
        assert_eq!(opened.stdout, plaintext);
    }
}

#[test]
fn now_fixes_the_clock() {
    let dir = temp_dir("now");
    std::fs::write(
        dir.join("chat.key"),
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=\n",
    )
    .unwrap();
    std::fs::set_permissions(dir.join("chat.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    // The spec's verify vector, at its own time, and 60 s past its TTL.
    let token = b"gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==\n";
    let ok = fernchat(
        &dir,
        &["decrypt", "--ttl", "60", "--now", "499162800"],
        token,
    );
    assert_eq!(ok.stdout, b"hello");
    let late = fernchat(
        &dir,
        &["decrypt", "--ttl", "60", "--now", "499162861"],
        token,
    );
    assert_eq!(late.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&late.stderr).lines().count(), 1);
    let sealed = fernchat(&dir, &["encrypt", "--now", "499162800"], b"x");
    let back = fernchat(
        &dir,
        &["decrypt", "--ttl", "1", "--now", "499162801"],
        &sealed.stdout,
    );
    assert_eq!(back.stdout, b"x");
}

#[test]
fn bad_inputs_get_one_line_and_exit_2() {
    let dir = temp_dir("bad");
    let missing = fernchat(&dir, &["encrypt"], b"x");
    assert_eq!(missing.status.code(), Some(2));
    let said = String::from_utf8_lossy(&missing.stderr);
    assert!(
        said.contains("fernchat keygen"),
        "says how to make a key: {said}"
    );

    std::fs::write(dir.join("short.key"), "abc\n").unwrap();
    let short = fernchat(&dir, &["encrypt", "-k", "short.key"], b"x");
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("44 characters"));

    std::fs::write(
        dir.join("bad.key"),
        "cw_0x689RpI+jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=\n",
    )
    .unwrap();
    let bad = fernchat(&dir, &["encrypt", "-k", "bad.key"], b"x");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("base64url"));

    // Readable by others: a warning, and it still works.
    std::fs::write(
        dir.join("open.key"),
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=\n",
    )
    .unwrap();
    std::fs::set_permissions(dir.join("open.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let open = fernchat(&dir, &["encrypt", "-k", "open.key"], b"x");
    assert!(open.status.success());
    assert!(String::from_utf8_lossy(&open.stderr).contains("readable by others"));

    let garbage = fernchat(&dir, &["decrypt", "-k", "open.key"], b"not a token");
    assert_eq!(garbage.status.code(), Some(1));
    assert!(garbage.stdout.is_empty());

    let too_long = fernchat(&dir, &["encrypt", "-k", "open.key"], &[b'a'; 3008]);
    assert_eq!(too_long.status.code(), Some(2));

    let no_server = fernchat(
        &dir,
        &[
            "client",
            "-k",
            "open.key",
            "-n",
            "ann",
            "--connect",
            "127.0.0.1:1",
        ],
        b"",
    );
    assert_eq!(no_server.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_server.stderr).contains("cannot connect"));

    let bad_nick = fernchat(&dir, &["client", "-k", "open.key", "-n", "two words"], b"");
    assert_eq!(bad_nick.status.code(), Some(2));
}

#[test]
fn keygen_writes_0600_and_never_overwrites_silently() {
    let dir = temp_dir("keygen");
    assert!(fernchat(&dir, &["keygen", "-o", "k"], b"").status.success());
    let mode = std::fs::metadata(dir.join("k"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let first = std::fs::read(dir.join("k")).unwrap();
    assert_eq!(first.len(), 45);
    let again = fernchat(&dir, &["keygen", "-o", "k"], b"");
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(std::fs::read(dir.join("k")).unwrap(), first);
    assert!(
        fernchat(&dir, &["keygen", "-o", "k", "--force"], b"")
            .status
            .success()
    );
    assert_ne!(std::fs::read(dir.join("k")).unwrap(), first);
    let printed = fernchat(&dir, &["keygen", "-o", "-"], b"");
    assert_eq!(printed.stdout.len(), 45);
}

#[test]
fn address_in_use_is_exit_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = fernchat(&temp_dir("inuse"), &["server", "--listen", &addr], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use"));
}

/// `fernchat encrypt --key-file PATH` on "hi", ended after 10 s if it hangs.
fn encrypt_with_key_file(path: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(["encrypt", "--key-file"])
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(b"hi");
    let stderr = child.stderr.take().unwrap();
    let mut guard = fernchat_tests::process::Guard(child);
    let status = guard.wait_exit(std::time::Duration::from_secs(10));
    let status = status.expect("fernchat finished within 10 s");
    (status.code(), std::io::read_to_string(stderr).unwrap())
}

#[test]
fn key_file_read_bounded_and_never_blocking() {
    let (code, stderr) = encrypt_with_key_file(Path::new("/dev/zero"));
    assert_eq!(code, Some(2));
    assert_eq!(
        stderr,
        "fernchat: key file /dev/zero is over 65536 bytes: not a key file\n"
    );

    let dir = temp_dir("fifo");
    let fifo = dir.join("chat.key");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (code, stderr) = encrypt_with_key_file(&fifo);
    assert_eq!(code, Some(2));
    assert!(stderr.ends_with("the key file holds no key\n"), "{stderr}");
}

#[test]
fn key_file_with_a_byte_order_mark_accepted() {
    let dir = temp_dir("bom");
    let path = dir.join("chat.key");
    let key = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
    std::fs::write(&path, format!("\u{FEFF}{key}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, stderr) = encrypt_with_key_file(&path);
    assert_eq!(code, Some(0), "{stderr}");
}
