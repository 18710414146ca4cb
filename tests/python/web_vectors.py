"""The page's Fernet (std-shell/web/fernet.js) and payload rules
(message.js, replay.js) run in headless Chromium against the official
Fernet vectors and against Python's cryptography, both ways.

    web_vectors.py PAGE_DIR VECTORS_DIR

Loads PAGE_DIR/index.html as a file (as a saved copy of the page is
opened), so it also checks that the page's scripts load under its
Content-Security-Policy there. Prints one line per check; exits non-zero
on the first failure.
"""
import base64
import datetime
import json
import os
import pathlib
import random
import sys

from cryptography.fernet import Fernet, InvalidToken

from chromium import Browser


def epoch(iso):
    return int(datetime.datetime.fromisoformat(iso).timestamp())


def check(what, ok, detail=""):
    if not ok:
        sys.exit(f"FAIL {what} {detail}")
    print(f"ok {what}")


# Runs in the page: arguments[0] is a list of jobs, the last argument the
# WebDriver callback. Each job gives [ok, value] or [false, error reason].
RUN = """
const [jobs, done] = [arguments[0], arguments[arguments.length - 1]];
const F = FernchatFernet;
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (h) => new Uint8Array(h.match(/../g)?.map((x) => parseInt(x, 16)) ?? []);
(async () => {
  const out = [];
  for (const job of jobs) {
    try {
      const keys = await F.importKeys(job.key);
      if (job.op === "encrypt") {
        const iv = job.iv ? new Uint8Array(job.iv) : undefined;
        out.push([true, await F.encrypt(keys, unhex(job.plaintext), job.now, iv)]);
      } else {
        const opened = await F.decrypt(keys, job.token, job.now, job.ttl);
        out.push([true, hex(opened.plaintext), opened.timestamp]);
      }
    } catch (e) {
      out.push([false, e.reason ?? String(e)]);
    }
  }
  return out;
})().then(done, (e) => done([[false, String(e)]]));
"""


def run(browser, jobs):
    return browser.driver.execute_async_script(RUN, jobs)


def official_vectors(browser, vectors):
    generate = json.loads((vectors / "generate.json").read_text())
    jobs = [
        {"op": "encrypt", "key": v["secret"], "now": epoch(v["now"]), "iv": v["iv"],
         "plaintext": v["src"].encode().hex()}
        for v in generate
    ]
    for v, (ok, token) in zip(generate, run(browser, jobs)):
        check("generate.json: the same token", ok and token == v["token"], token)

    verify = json.loads((vectors / "verify.json").read_text())
    jobs = [
        {"op": "decrypt", "key": v["secret"], "token": v["token"], "now": epoch(v["now"]),
         "ttl": v["ttl_sec"]}
        for v in verify
    ]
    for v, result in zip(verify, run(browser, jobs)):
        check("verify.json: opens", result[0] and result[1] == v["src"].encode().hex(), result)

    invalid = json.loads((vectors / "invalid.json").read_text())
    jobs = [
        {"op": "decrypt", "key": v["secret"], "token": v["token"], "now": epoch(v["now"]),
         "ttl": v["ttl_sec"]}
        for v in invalid
    ]
    results = run(browser, jobs)
    for v, result in zip(invalid, results):
        check(f"invalid.json: refused: {v['desc']} ({result[1]})", not result[0], result)
    check("invalid.json: every vector ran", len(results) == len(invalid) == 8)


def python_interop(browser):
    rng = random.Random(12)
    now = int(datetime.datetime.now().timestamp())
    # Every block boundary up to 64 bytes, then sizes up to the largest payload.
    sizes = list(range(0, 66)) + [255, 256, 1000, 3006, 3007]
    keys = [Fernet.generate_key().decode() for _ in sizes]
    plaintexts = [rng.randbytes(n) for n in sizes]

    # Python seals, the browser opens.
    tokens = [Fernet(k).encrypt_at_time(p, now).decode() for k, p in zip(keys, plaintexts)]
    jobs = [{"op": "decrypt", "key": k, "token": t, "now": now, "ttl": 300}
            for k, t in zip(keys, tokens)]
    results = run(browser, jobs)
    check(f"browser opens {len(tokens)} Python tokens",
          all(r[0] and r[1] == p.hex() and r[2] == now for r, p in zip(results, plaintexts)),
          [r for r in results if not r[0]][:3])

    # Spoiled Python tokens: a flipped bit, a changed character, a truncation.
    spoiled = []
    for t in tokens[:20]:
        raw = bytearray(base64.urlsafe_b64decode(t))
        raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        spoiled.append(base64.urlsafe_b64encode(bytes(raw)).decode())
        spoiled.append(t[:10] + ("A" if t[10] != "A" else "B") + t[11:])
        spoiled.append(t[:-4])
    jobs = [{"op": "decrypt", "key": keys[i // 3], "token": s, "now": now, "ttl": 300}
            for i, s in enumerate(spoiled)]
    results = run(browser, jobs)
    check(f"browser refuses {len(spoiled)} spoiled Python tokens",
          all(not r[0] and r[1] in ("bad MAC (forged, corrupted or another key)", "malformed token")
              for r in results), [r for r in results if r[0]][:3])

    # The same bytes spelled non-canonically (an unused low bit set before
    # the padding): Python would accept them, fernchat refuses them.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    loose = []
    for k, t in zip(keys, tokens):
        body = t.rstrip("=")
        if len(body) < len(t):
            last = alphabet[alphabet.index(body[-1]) ^ 1]
            loose.append((k, body[:-1] + last + t[len(body):]))
    check("Python reads the loose spellings", all(
        Fernet(k).decrypt_at_time(t.encode(), 300, now) is not None for k, t in loose))
    results = run(browser, [{"op": "decrypt", "key": k, "token": t, "now": now, "ttl": 300}
                            for k, t in loose])
    check(f"browser refuses {len(loose)} non-canonical spellings",
          loose and all(r == [False, "malformed token"] for r in results), results[:3])

    # The browser seals, Python opens, with fernchat's TTL.
    jobs = [{"op": "encrypt", "key": k, "now": now, "plaintext": p.hex()}
            for k, p in zip(keys, plaintexts)]
    results = run(browser, jobs)
    opened = []
    for (ok, token), k in zip(results, keys):
        try:
            opened.append(Fernet(k).decrypt_at_time(token.encode(), 300, now) if ok else None)
        except InvalidToken:
            opened.append(None)
    check(f"Python opens {len(keys)} browser tokens", opened == plaintexts)
    check("browser tokens are canonical, with fresh IVs",
          all(ok and len(t) % 4 == 0 for ok, t in results)
          and len({base64.urlsafe_b64decode(t)[9:25] for _, t in results}) == len(results))
    check("browser refuses another key's token", not run(browser, [
        {"op": "decrypt", "key": keys[1], "token": tokens[0], "now": now, "ttl": 300}])[0][0])
    check("browser refuses expired and future tokens", [r[1] for r in run(browser, [
        {"op": "decrypt", "key": keys[0], "token": tokens[0], "now": now + 301, "ttl": 300},
        {"op": "decrypt", "key": keys[0], "token": tokens[0], "now": now - 61, "ttl": 300},
    ])] == ["expired", "timestamp too far in the future"])


# The payload and display rules, against the CLI's (core/src/message.rs and
# core/src/render.rs unit tests).
PAYLOADS = [
    (b"ann\nhello\nworld", "<ann> hello\n  | world"),
    (b"a\n/join", "a joined"),
    (b"a\n/leave", "a left"),
    (b"a\n/me waves", "* a waves"),
    (b"a\n/me", "* a "),
    (b"a\n//etc", "<a> /etc"),
    (b"a\n/other x", "<a> /other x"),
    (b"a\n/join now", "<a> /join now"),
    (b"no line feed", "<?> no line feed"),
    (b"two words\nhi", "<?> two words\n  | hi"),
    (b"ann\nbad \xff byte", "<ann> bad \ufffd byte"),
    (b"eve\nhi\n[12:00:00] <bob> forged\x1b[2J", "<eve> hi\n  | [12:00:00] <bob> forged^[[2J"),
    ("b\u202eob\n/me waves\x07".encode(), "<?> b\\u{202e}ob\n  | /me waves^G"),
    (b"ann\na\rb\x08c\td\x7f\x00", "<ann> a^Mb^Hc^Id^?^@"),
    ("ann\n\u009b31m \u200b \u2067x \U000e0041".encode(), "<ann> \\u{9b}31m \\u{200b} \\u{2067}x \\u{e0041}"),
    ("ann\nh\u00e9llo \u65e5\u672c \U0001f468\u200d\U0001f469".encode(),
     "<ann> h\u00e9llo \u65e5\u672c \U0001f468\u200d\U0001f469"),
    (("x" * 33 + "\nhi").encode(), "<?> " + "x" * 33 + "\n  | hi"),
    ("ann\u200d\nhi".encode(), "<?> ann\u200d\n  | hi"),
]


def payload_rules(browser):
    shown = browser.driver.execute_script(
        "return arguments[0].map(h => FernchatMessage.describe(FernchatMessage.parse("
        "new Uint8Array(h.match(/../g)?.map(x => parseInt(x, 16)) ?? []))))",
        [p.hex() for p, _ in PAYLOADS])
    for (payload, expected), got in zip(PAYLOADS, shown):
        check(f"payload {payload[:24]!r} shown as the CLI shows it", got == expected, repr(got))
    typed = browser.driver.execute_script(
        "return arguments[0].map(l => JSON.stringify(FernchatMessage.parseInput(l)))",
        ["hi", "//etc", "/me naps", "/me", "/quit", "/exit", "/help", "/frob x", ""])
    check("typed lines read as the CLI reads them", typed == [
        '{"send":{"kind":"text","text":"hi"}}', '{"send":{"kind":"text","text":"/etc"}}',
        '{"send":{"kind":"me","text":"naps"}}', '{"send":{"kind":"me","text":""}}',
        '{"quit":true}', '{"quit":true}', '{"help":true}', '{"unknown":"/frob"}',
        '{"nothing":true}'], typed)
    nicks = browser.driver.execute_script(
        "return arguments[0].map(n => FernchatMessage.nickError(n) === null)",
        ["ann", "\u00e4\u00f6\u00fc-\u65e5\u672c", "", "x" * 33, "a b", "a\tb", "ann\u202e", "ann\u200d",
         "ann\u00a0", "ann\u0085", "\u00e9" * 16, "\u00e9" * 17])
    check("nick rules as the CLI's", nicks == [
        True, True, False, False, False, False, False, False, False, False, True, False], nicks)


REPLAY = """
const cache = new FernchatReplay(360, 8);
const tag = (n) => new Uint8Array(32).fill(n);
const out = [];
out.push(cache.check(tag(1), 1000, 1000));   // new
out.push(cache.check(tag(1), 1000, 1001));   // replayed
for (let i = 2; i <= 8; i++) out.push(cache.check(tag(i), 1000 + i, 1010)); // fills it
out.push(cache.check(tag(9), 1000, 1010));   // no newer than the oldest second: unverifiable
out.push(cache.check(tag(10), 1011, 1011));  // evicts second 1000: the floor is 1000
out.push(cache.check(tag(11), 1000, 1011));  // at the floor: unverifiable
const ahead = new FernchatReplay(360, 8);
for (let i = 1; i <= 4; i++) out.push(ahead.check(tag(i), 1050, 1000)); // dated ahead: half the pool
out.push(ahead.check(tag(5), 1050, 1000));   // more ahead: unverifiable
out.push(ahead.check(tag(6), 1000, 1000));   // dated now: still room
const expiring = new FernchatReplay(360, 8);
out.push(expiring.check(tag(1), 1000, 1000));
out.push(expiring.check(tag(1), 1000, 1361)); // out of the window: forgotten, below the floor
return out;
"""


def replay_rules(browser):
    got = browser.driver.execute_script(REPLAY)
    check("replay cache: replays, floor, eviction, tokens ahead", got == [
        "new", "replayed", *["new"] * 7, "unverifiable", "new", "unverifiable",
        *["new"] * 4, "unverifiable", "new", "new", "unverifiable"], got)


def main():
    page, vectors = pathlib.Path(sys.argv[1]).resolve(), pathlib.Path(sys.argv[2])
    with Browser() as browser:
        browser.driver.get((page / "index.html").as_uri())
        loaded = browser.driver.execute_script(
            "return [typeof FernchatFernet, typeof FernchatMessage, typeof FernchatReplay,"
            " typeof fernchatPage, window.isSecureContext]")
        check("the page's scripts load from a file under its CSP", loaded == [
            "object", "object", "function", "object", True], loaded)
        official_vectors(browser, vectors)
        python_interop(browser)
        payload_rules(browser)
        replay_rules(browser)
    print("web vectors: all checks passed")


if __name__ == "__main__":
    main()
