//! `fernchat key import` and `export` against real Python pickles
//! (`docs/PROTOCOL.md` section 4, Pickled keys): every protocol Python
//! writes is read, an exported key loads in Python, and hostile pickles are
//! refused in one line, exit code 2, with nothing run.

use fernchat_tests::python::{old_chat_python, python, script};
use fernchat_tests::std_client::keygen;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");

/// A fresh directory for one test.
fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fernchat-pickle-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

/// Runs `tests/python/make_chave.py KIND PATH ARGS`; gives what it printed.
fn make_chave(kind: &str, path: &Path, args: &[&str]) -> String {
    let out = Command::new(old_chat_python())
        .arg(script("make_chave.py"))
        .arg(kind)
        .arg(path)
        .args(args)
        .output()
        .expect("run make_chave.py");
    assert!(out.status.success(), "make_chave.py {kind} failed");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

fn fernchat(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run fernchat")
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

#[test]
fn every_protocol_python_writes_imports_to_a_private_key_file() {
    let dir = dir("protocols");
    for protocol in 0..=5 {
        let chave = dir.join(format!("chave-{protocol}.key"));
        let key = make_chave(&format!("fernet-{protocol}"), &chave, &[]);
        let out_file = dir.join(format!("chat-{protocol}.key"));
        let out = fernchat(&["key", "import", path(&chave), "-o", path(&out_file)]);
        assert!(out.status.success(), "protocol {protocol}: {out:?}");
        assert_eq!(
            std::fs::read_to_string(&out_file).unwrap(),
            format!("{key}\n"),
            "protocol {protocol}"
        );
        let mode = std::fs::metadata(&out_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // The key file is never replaced silently.
        let again = fernchat(&["key", "import", path(&chave), "-o", path(&out_file)]);
        assert_eq!(again.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    }
}

#[test]
fn an_exported_chave_key_works_in_python() {
    let (key_file, _) = keygen(Path::new(BIN), "pickle-export");
    let chave = key_file.with_file_name("chave.key");
    let out = fernchat(&[
        "key",
        "export",
        "--pickle",
        "--key-file",
        path(&key_file),
        "-o",
        path(&chave),
    ]);
    assert!(out.status.success(), "{out:?}");
    let mode = std::fs::metadata(&chave).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // Python loads it into a Fernet whose tokens fernchat opens, and which
    // opens fernchat's.
    let token = Command::new(BIN)
        .args(["encrypt", "--key-file", path(&key_file)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"from fernchat")?;
            child.wait_with_output()
        })
        .expect("fernchat encrypt");
    assert!(token.status.success());
    let program = "import pickle, sys\n\
         f = pickle.load(open(sys.argv[1], 'rb'))\n\
         print(f.decrypt(sys.argv[2].encode()).decode())\n\
         print(f.encrypt(b'from python').decode())";
    let python_out = Command::new(old_chat_python())
        .args(["-c", program, path(&chave)])
        .arg(String::from_utf8(token.stdout).unwrap().trim())
        .output()
        .expect("run python");
    assert!(python_out.status.success(), "{python_out:?}");
    let text = String::from_utf8(python_out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("from fernchat"));
    let python_token = lines.next().expect("a token from python");
    let opened = Command::new(BIN)
        .args(["decrypt", "--key-file", path(&key_file)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(python_token.as_bytes())?;
            child.wait_with_output()
        })
        .expect("fernchat decrypt");
    assert!(opened.status.success());
    assert_eq!(opened.stdout, b"from python");
    // And it round-trips through import.
    let back = fernchat(&["key", "import", path(&chave), "-o", "-"]);
    assert_eq!(back.stdout, std::fs::read(&key_file).unwrap());
}

/// Imports `chave`; checks the refusal: exit code 2, one line on stderr
/// containing `why`, no key file written. Gives the line.
fn refused(chave: &Path, why: &str) -> String {
    let out_file = chave.with_extension("imported");
    let out = fernchat(&["key", "import", path(chave), "-o", path(&out_file)]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("fernchat: "), "{stderr}");
    assert!(stderr.contains(why), "{stderr:?} should say {why:?}");
    assert!(out.stdout.is_empty());
    assert!(!out_file.exists(), "no key file written");
    stderr
}

#[test]
fn hostile_pickles_are_refused_in_one_line_and_run_nothing() {
    let dir = dir("hostile");
    // os.system via __reduce__: refused, and the file it would make is not there.
    let marker = dir.join("code-ran");
    let evil = dir.join("evil.key");
    make_chave("evil", &evil, &[path(&marker)]);
    let line = refused(&evil, "refers to posix.system");
    assert!(line.contains("nothing is run"), "{line}");
    assert!(!marker.exists(), "importing the pickle ran its code");
    // The control: Python's own pickle.load of the same file does run it.
    let status = Command::new(python())
        .args([
            "-c",
            "import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))",
        ])
        .arg(&evil)
        .status()
        .expect("run python");
    assert!(status.success());
    assert!(marker.exists(), "the evil pickle is a real one");

    // Truncated: a real chave.key cut short, at several places.
    let good = dir.join("good.key");
    make_chave("fernet-4", &good, &[]);
    let bytes = std::fs::read(&good).unwrap();
    for cut in [0, 3, bytes.len() / 2, bytes.len() - 1] {
        let truncated = dir.join(format!("truncated-{cut}.key"));
        std::fs::write(&truncated, &bytes[..cut]).unwrap();
        refused(&truncated, "truncated");
    }

    // Another class.
    let other = dir.join("other.key");
    make_chave("other", &other, &[]);
    refused(&other, "refers to datetime.date");

    // Keys of the wrong length.
    let short = dir.join("short.key");
    make_chave("short-key", &short, &[]);
    refused(&short, "_signing_key is 15 bytes, not 16");
    let long = dir.join("long.key");
    make_chave("long-key", &long, &[]);
    refused(&long, "_signing_key is 32 bytes, not 16");

    // Not a pickle at all.
    let binary = dir.join("binary.key");
    std::fs::write(&binary, b"\x00\x01").unwrap();
    refused(
        &binary,
        "opcode 0x00 at byte 0 is not one a pickled Fernet uses",
    );
}
