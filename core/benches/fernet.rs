//! Fernet encrypt and decrypt, three implementations side by side in one run:
//!
//! - fernchat-core (`hazmat::encrypt_with_iv`, the whole of `Key::encrypt`
//!   but drawing the IV, and `Key::decrypt`);
//! - the `fernet` crate from crates.io, with its pure-Rust `rustcrypto` backend;
//! - the floor: the same primitive crates fernchat-core uses, doing only the
//!   unavoidable work (CBC, one HMAC, base64) with the key schedules prepared
//!   once and no heap.
//!
//! Shared machines are noisy, so the three are timed interleaved: each round
//! runs a short batch of every implementation in turn (rotating who goes
//! first), and each figure is the fastest round, since noise only adds time.
//! Beside each ratio the median of the per-round ratios is printed as a noise
//! check. Before timing, every implementation's tokens are checked against
//! the others'.
//!
//! `cargo bench -p fernchat-core --bench fernet [-- --rounds N --batch-ms MS]`

use aes::Aes128;
use base64_simd::{Out, URL_SAFE};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, InnerIvInit, KeyInit};
use fernchat_core::fernet::hazmat::encrypt_with_iv;
use fernchat_core::fernet::{HEADER_LEN, IV_LEN, Key, TAG_LEN, VERSION};
use fernchat_core::frame::DECODE_BUF_LEN;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Plaintext lengths measured, in bytes.
const SIZES: [usize; 3] = [64, 1024, 3000];
/// The time tokens are made at, and opened at, in Unix seconds.
const NOW: u64 = 1_700_000_000;
/// The TTL given to every decryption, in seconds.
const TTL: u64 = 3600;
/// The IV of every token (fixed, so that implementations can be compared byte for byte).
const IV: [u8; IV_LEN] = *b"fernchat-bench!!";
/// The key of every token.
const KEY: [u8; 32] = *b"0123456789abcdef-fernchat-bench-";
/// Room for the longest token text.
const TOKEN_BUF_LEN: usize = 4096;

/// The most fernchat-core may cost relative to the floor.
const MAX_CORE_OVER_FLOOR: f64 = 1.10;
/// The least speedup over the `fernet` crate, per operation and plaintext length.
const SPEEDUP_GOALS: [(Op, usize, f64); 4] = [
    (Op::Encrypt, 64, 2.0),
    (Op::Encrypt, 3000, 1.25),
    (Op::Decrypt, 64, 1.4),
    (Op::Decrypt, 3000, 1.15),
];

/// The operation a case measures.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Plaintext to token text.
    Encrypt,
    /// Token text to plaintext, TTL checked.
    Decrypt,
}

impl Op {
    /// The name printed in the table.
    fn name(self) -> &'static str {
        match self {
            Op::Encrypt => "encrypt",
            Op::Decrypt => "decrypt",
        }
    }
}

/// The implementations, in the order of [`Case::samples`].
const IMPLS: [&str; 3] = ["fernchat-core", "fernet crate", "floor"];
/// Index of fernchat-core in [`IMPLS`].
const CORE: usize = 0;
/// Index of the `fernet` crate in [`IMPLS`].
const CRATE: usize = 1;
/// Index of the floor in [`IMPLS`].
const FLOOR: usize = 2;

/// The bare primitives, keyed once: the least work a Fernet token needs.
struct Floor {
    /// HMAC-SHA256 with the signing key's pads already hashed; cloned per token.
    mac: Hmac<Sha256>,
    /// AES-128 with its key expanded.
    aes: Aes128,
}

impl Floor {
    /// Keys the primitives from a 32-byte Fernet key.
    fn new(key: &[u8; 32]) -> Floor {
        Floor {
            mac: Hmac::<Sha256>::new_from_slice(&key[..16]).expect("HMAC takes any key length"),
            aes: Aes128::new_from_slice(&key[16..]).expect("16-byte AES key"),
        }
    }

    /// Encrypts `plaintext` into `out` as token text, using `raw` (at least
    /// [`DECODE_BUF_LEN`] bytes) for the binary token: header, one CBC pass
    /// with padding, one HMAC, one base64 encoding.
    fn encrypt<'o>(
        &self,
        plaintext: &[u8],
        now: u64,
        iv: [u8; IV_LEN],
        raw: &mut [u8],
        out: &'o mut [u8],
    ) -> &'o [u8] {
        raw[0] = VERSION;
        raw[1..9].copy_from_slice(&now.to_be_bytes());
        raw[9..HEADER_LEN].copy_from_slice(&iv);
        let ciphertext_len = cbc::Encryptor::<Aes128>::inner_iv_init(self.aes.clone(), &iv.into())
            .encrypt_padded_b2b::<Pkcs7>(plaintext, &mut raw[HEADER_LEN..])
            .expect("raw holds the ciphertext")
            .len();
        let signed_len = HEADER_LEN + ciphertext_len;
        let mut mac = self.mac.clone();
        mac.update(&raw[..signed_len]);
        raw[signed_len..signed_len + TAG_LEN].copy_from_slice(&mac.finalize().into_bytes());
        URL_SAFE.encode(&raw[..signed_len + TAG_LEN], Out::from_slice(out))
    }

    /// Decrypts `token` into `buf`: one base64 decoding, one HMAC verify, one
    /// CBC pass with unpadding. `None` when the token does not open.
    fn decrypt<'b>(&self, token: &[u8], buf: &'b mut [u8]) -> Option<&'b [u8]> {
        let len = URL_SAFE.decode(token, Out::from_slice(buf)).ok()?.len();
        let signed_len = len.checked_sub(TAG_LEN)?;
        let (signed, tag) = buf[..len].split_at_mut(signed_len);
        let mut mac = self.mac.clone();
        mac.update(signed);
        mac.verify_slice(tag).ok()?;
        let mut iv = [0u8; IV_LEN];
        iv.copy_from_slice(&signed[9..HEADER_LEN]);
        cbc::Decryptor::<Aes128>::inner_iv_init(self.aes.clone(), &iv.into())
            .decrypt_padded::<Pkcs7>(&mut signed[HEADER_LEN..])
            .ok()
    }
}

/// How long to measure.
struct Options {
    /// Interleaved rounds per case.
    rounds: usize,
    /// Target duration of one implementation's batch within a round.
    batch: Duration,
}

impl Options {
    /// Reads `--rounds N` and `--batch-ms MS` (cargo's own `--bench` is
    /// ignored); exits with a usage message on anything else.
    fn from_args() -> Options {
        let mut options = Options {
            rounds: 101,
            batch: Duration::from_millis(2),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || {
                args.next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .filter(|&v| v > 0)
            };
            match arg.as_str() {
                "--bench" => {}
                "--rounds" => match value() {
                    Some(n) => options.rounds = n as usize,
                    None => usage(),
                },
                "--batch-ms" => match value() {
                    Some(ms) => options.batch = Duration::from_millis(ms),
                    None => usage(),
                },
                _ => usage(),
            }
        }
        options
    }
}

/// Prints how to call the bench and exits.
fn usage() -> ! {
    eprintln!("usage: fernet [--rounds N] [--batch-ms MS]   (N, MS > 0; defaults 101 and 2)");
    std::process::exit(2)
}

/// One implementation's operation, ready to run: given a count, runs the
/// operation that many times and gives the elapsed time.
type Runner<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

/// Wraps one operation as a [`Runner`]; the loop is compiled per operation,
/// so the only per-token overhead is the operation itself.
fn runner<'a>(mut op: impl FnMut() + 'a) -> Runner<'a> {
    Box::new(move |count| {
        let start = Instant::now();
        for _ in 0..count {
            op();
        }
        start.elapsed()
    })
}

/// Times `runners` interleaved: after calibrating a batch size each, runs
/// `rounds` rounds of one batch per runner, rotating who goes first. Gives,
/// per runner, its nanoseconds per operation in each round.
fn measure(runners: &mut [Runner<'_>], options: &Options) -> Vec<Vec<f64>> {
    let counts: Vec<u64> = runners
        .iter_mut()
        .map(|run| calibrate(run, options.batch))
        .collect();
    let mut samples = vec![Vec::with_capacity(options.rounds); runners.len()];
    for round in 0..options.rounds {
        for turn in 0..runners.len() {
            let i = (round + turn) % runners.len();
            let elapsed = runners[i](counts[i]);
            samples[i].push(elapsed.as_nanos() as f64 / counts[i] as f64);
        }
    }
    samples
}

/// The count of operations that takes about `batch` (after warming up).
fn calibrate(run: &mut Runner<'_>, batch: Duration) -> u64 {
    let mut count = 1u64;
    loop {
        let elapsed = run(count);
        if elapsed >= batch / 8 {
            let scaled = count as f64 * batch.as_secs_f64() / elapsed.as_secs_f64();
            return (scaled as u64).max(1);
        }
        count *= 2;
    }
}

/// The smallest of `values`: on a shared machine noise only ever adds time,
/// so the fastest round is the best estimate of an implementation's cost.
fn fastest(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

/// The median of `values` (not empty).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    }
}

/// A ratio between two implementations' times.
struct Ratio {
    /// Ratio of the fastest rounds: the figure goals are judged on.
    fastest: f64,
    /// Median of the per-round ratios: a noise check (far from `fastest`
    /// means the run was disturbed and is worth repeating).
    per_round: f64,
}

impl Ratio {
    /// The ratio `numerator / denominator` of two implementations' samples.
    fn of(numerator: &[f64], denominator: &[f64]) -> Ratio {
        let per_round: Vec<f64> = numerator
            .iter()
            .zip(denominator)
            .map(|(n, d)| n / d)
            .collect();
        Ratio {
            fastest: fastest(numerator) / fastest(denominator),
            per_round: median(&per_round),
        }
    }

    /// `fastest [per-round median]`.
    fn show(&self) -> String {
        format!("{:.2} [{:.2}]", self.fastest, self.per_round)
    }
}

/// One operation at one plaintext length, measured.
struct Case {
    /// The operation.
    op: Op,
    /// Plaintext length in bytes.
    size: usize,
    /// Nanoseconds per token, per implementation (as in [`IMPLS`]), per round.
    samples: Vec<Vec<f64>>,
}

/// Checks, before any timing, that the three implementations make the same
/// tokens and open each other's, so that they are compared on the same work.
fn check_interop(key: &Key, fernet: &fernet::Fernet, floor: &Floor, plaintext: &[u8]) {
    let mut out = [0u8; TOKEN_BUF_LEN];
    let mut floor_out = [0u8; TOKEN_BUF_LEN];
    let mut raw = [0u8; DECODE_BUF_LEN];
    let mut buf = [0u8; DECODE_BUF_LEN];
    let len = plaintext.len();

    let token = encrypt_with_iv(key, plaintext, NOW, IV, &mut out).expect("core encrypts");
    let floor_token = floor.encrypt(plaintext, NOW, IV, &mut raw, &mut floor_out);
    assert_eq!(token, floor_token, "core and floor tokens differ ({len} B)");
    let text = std::str::from_utf8(token).expect("token text is ASCII");
    let opened = fernet
        .decrypt_at_time(text, Some(TTL), NOW)
        .expect("the fernet crate opens core's token");
    assert_eq!(
        opened, plaintext,
        "fernet crate reads core's token wrong ({len} B)"
    );
    let opened = floor
        .decrypt(token, &mut buf)
        .expect("floor opens core's token");
    assert_eq!(
        opened, plaintext,
        "floor reads core's token wrong ({len} B)"
    );

    let crate_token = fernet.encrypt_at_time(plaintext, NOW);
    assert_eq!(
        crate_token.len(),
        token.len(),
        "token lengths differ ({len} B)"
    );
    let opened = key
        .decrypt(crate_token.as_bytes(), NOW, Some(TTL), &mut buf)
        .expect("core opens the fernet crate's token");
    assert_eq!(
        opened.plaintext, plaintext,
        "core reads the crate's token wrong ({len} B)"
    );
    assert_eq!(opened.timestamp, NOW);
}

/// Measures encryption of `plaintext` by the three implementations.
fn bench_encrypt(
    key: &Key,
    fernet: &fernet::Fernet,
    floor: &Floor,
    plaintext: &[u8],
    options: &Options,
) -> Vec<Vec<f64>> {
    let mut core_out = [0u8; TOKEN_BUF_LEN];
    let mut floor_out = [0u8; TOKEN_BUF_LEN];
    let mut floor_raw = [0u8; DECODE_BUF_LEN];
    let mut runners: [Runner<'_>; 3] = [
        runner(|| {
            let token = encrypt_with_iv(
                key,
                black_box(plaintext),
                black_box(NOW),
                black_box(IV),
                &mut core_out,
            );
            black_box(token.expect("core encrypts"));
        }),
        runner(|| {
            black_box(fernet.encrypt_at_time(black_box(plaintext), black_box(NOW)));
        }),
        runner(|| {
            let token = floor.encrypt(
                black_box(plaintext),
                black_box(NOW),
                black_box(IV),
                &mut floor_raw,
                &mut floor_out,
            );
            black_box(token);
        }),
    ];
    measure(&mut runners, options)
}

/// Measures decryption of the same token by the three implementations.
fn bench_decrypt(
    key: &Key,
    fernet: &fernet::Fernet,
    floor: &Floor,
    plaintext: &[u8],
    options: &Options,
) -> Vec<Vec<f64>> {
    let mut out = [0u8; TOKEN_BUF_LEN];
    let token: &[u8] = encrypt_with_iv(key, plaintext, NOW, IV, &mut out).expect("core encrypts");
    let text = std::str::from_utf8(token).expect("token text is ASCII");
    let mut core_buf = [0u8; DECODE_BUF_LEN];
    let mut floor_buf = [0u8; DECODE_BUF_LEN];
    let mut runners: [Runner<'_>; 3] = [
        runner(|| {
            let opened = key.decrypt(
                black_box(token),
                black_box(NOW),
                black_box(Some(TTL)),
                &mut core_buf,
            );
            black_box(opened.expect("core decrypts").plaintext);
        }),
        runner(|| {
            let opened =
                fernet.decrypt_at_time(black_box(text), black_box(Some(TTL)), black_box(NOW));
            black_box(opened.expect("the fernet crate decrypts"));
        }),
        runner(|| {
            let opened = floor.decrypt(black_box(token), &mut floor_buf);
            black_box(opened.expect("floor decrypts"));
        }),
    ];
    measure(&mut runners, options)
}

/// Nanoseconds per 16-byte `getrandom` call: what the `fernet` crate's
/// encrypt spends drawing its IV, already inside its figures.
fn bench_getrandom(options: &Options) -> f64 {
    let mut iv = [0u8; IV_LEN];
    let mut runners = [runner(|| {
        getrandom::getrandom(black_box(&mut iv)).expect("getrandom works");
    })];
    fastest(&measure(&mut runners, options)[0])
}

/// The verdict on one ratio against its goal; records a miss in `missed`.
fn verdict(ratio: f64, goal: Goal, what: String, missed: &mut Vec<String>) -> String {
    let (met, sign, bound) = match goal {
        Goal::AtLeast(bound) => (ratio >= bound, ">=", bound),
        Goal::AtMost(bound) => (ratio <= bound, "<=", bound),
    };
    if met {
        format!("{sign} {bound:.2} ok")
    } else {
        missed.push(format!("{what} {ratio:.2}, goal {sign} {bound:.2}"));
        format!("{sign} {bound:.2} MISSED")
    }
}

/// A bound a ratio must respect.
#[derive(Clone, Copy)]
enum Goal {
    /// The ratio must be at least this.
    AtLeast(f64),
    /// The ratio must be at most this.
    AtMost(f64),
}

/// Prints the table and which goals are met.
fn report(cases: &[Case], options: &Options, getrandom_ns: f64) {
    println!();
    println!(
        "Fernet, ns/token: the fastest of {} interleaved rounds of ~{} ms per implementation.",
        options.rounds,
        options.batch.as_millis()
    );
    println!("Ratios: of those fastest times [median of the per-round ratios, a noise check].");
    println!();
    println!(
        "{:<8} {:>6} {:>14} {:>13} {:>7}   {:<27} core/floor",
        "op", "bytes", IMPLS[CORE], IMPLS[CRATE], IMPLS[FLOOR], "crate/core (speedup)",
    );
    let mut missed = Vec::new();
    let mut without_getrandom = Vec::new();
    for case in cases {
        let ns: Vec<f64> = case.samples.iter().map(|s| fastest(s)).collect();
        let speedup = Ratio::of(&case.samples[CRATE], &case.samples[CORE]);
        let over_floor = Ratio::of(&case.samples[CORE], &case.samples[FLOOR]);
        let name = format!("{} {} B", case.op.name(), case.size);
        let speedup_verdict = SPEEDUP_GOALS
            .iter()
            .find(|&&(op, size, _)| op == case.op && size == case.size)
            .map(|&(_, _, goal)| {
                verdict(
                    speedup.fastest,
                    Goal::AtLeast(goal),
                    format!("{name}: crate/core"),
                    &mut missed,
                )
            })
            .unwrap_or_default();
        let floor_verdict = verdict(
            over_floor.fastest,
            Goal::AtMost(MAX_CORE_OVER_FLOOR),
            format!("{name}: core/floor"),
            &mut missed,
        );
        println!(
            "{:<8} {:>6} {:>14.0} {:>13.0} {:>7.0}   {:<27} {} {}",
            case.op.name(),
            case.size,
            ns[CORE],
            ns[CRATE],
            ns[FLOOR],
            format!("{} {speedup_verdict}", speedup.show()),
            over_floor.show(),
            floor_verdict,
        );
        if case.op == Op::Encrypt {
            let speedup = (ns[CRATE] - getrandom_ns) / ns[CORE];
            without_getrandom.push(format!("{} B {speedup:.2}", case.size));
        }
    }
    println!();
    println!(
        "The fernet crate's encrypt draws its IV with getrandom ({getrandom_ns:.0} ns, included \
         above; fernchat-core and the floor take the IV as an argument)."
    );
    println!(
        "Encrypt crate/core without that call: {}.",
        without_getrandom.join(", ")
    );
    let goals = SPEEDUP_GOALS.len() + cases.len();
    if missed.is_empty() {
        println!("Goals: all {goals} met.");
    } else {
        println!("Goals: {} of {goals} met; missed:", goals - missed.len());
        for miss in &missed {
            println!("  {miss}");
        }
    }
}

/// Checks interop, measures every case, prints the table.
fn main() {
    let options = Options::from_args();
    let key = Key::from_bytes(KEY);
    let key_text = std::str::from_utf8(&key.encode())
        .expect("key text is ASCII")
        .to_owned();
    let fernet = fernet::Fernet::new(&key_text).expect("the fernet crate takes the key");
    let floor = Floor::new(&KEY);
    let largest = SIZES.iter().copied().max().unwrap_or(0);
    let text: Vec<u8> = (0..largest).map(|i| b"fernchat "[i % 9]).collect();

    for size in SIZES {
        check_interop(&key, &fernet, &floor, &text[..size]);
    }
    eprintln!("interop checked: core, fernet crate and floor tokens open with each other");

    let mut cases = Vec::new();
    for op in [Op::Encrypt, Op::Decrypt] {
        for size in SIZES {
            eprintln!("measuring {} {size} B ...", op.name());
            let plaintext = &text[..size];
            let samples = match op {
                Op::Encrypt => bench_encrypt(&key, &fernet, &floor, plaintext, &options),
                Op::Decrypt => bench_decrypt(&key, &fernet, &floor, plaintext, &options),
            };
            cases.push(Case { op, size, samples });
        }
    }
    let getrandom_ns = bench_getrandom(&options);
    report(&cases, &options, getrandom_ns);
}
