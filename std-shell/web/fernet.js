// Fernet in WebCrypto (docs/PROTOCOL.md section 3): a token is
// base64url(0x80 | timestamp | IV | AES-128-CBC(PKCS#7(plaintext)) | HMAC),
// the HMAC-SHA-256 keyed with key bytes 0..16, AES with bytes 16..32.
// Checks in the order of section 3's table; the first failure decides.
"use strict";

const FernchatFernet = (() => {
  const VERSION = 0x80;
  const IV_LEN = 16;
  const TAG_LEN = 32;
  const HEADER_LEN = 25; // version, timestamp, IV
  const MIN_TOKEN_BYTES = HEADER_LEN + 16 + TAG_LEN; // 73
  const MIN_TOKEN_CHARS = 100;
  const MAX_TOKEN_CHARS = 4092; // the longest token a 4096-byte frame holds
  const MAX_CLOCK_SKEW = 60n; // seconds a token may be dated ahead
  const MAX_KEYS = 4;
  const KEY_TEXT = /^[A-Za-z0-9_-]{43}=$/;
  const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const VALUE = new Map([...ALPHABET].map((c, i) => [c, i]));

  /** Why a token was refused: the names and words of core's TokenError. */
  const TokenError = Object.freeze({
    Malformed: "malformed token",
    BadMac: "bad MAC (forged, corrupted or another key)",
    BadPadding: "bad padding",
    FromTheFuture: "timestamp too far in the future",
    Expired: "expired",
  });

  class FernetError extends Error {
    constructor(reason) {
      super(reason);
      this.reason = reason;
    }
  }

  /** Canonical padded base64url to bytes, or null: length a multiple of 4,
   *  at most two `=` and only at the end, unused low bits zero. */
  function decodeBase64url(text) {
    if (text.length % 4 !== 0) return null;
    const pad = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
    const body = text.length - pad;
    const out = new Uint8Array((text.length / 4) * 3 - pad);
    let bits = 0;
    let acc = 0;
    let n = 0;
    for (let i = 0; i < body; i++) {
      const v = VALUE.get(text[i]);
      if (v === undefined) return null;
      acc = (acc << 6) | v;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out[n++] = (acc >> bits) & 0xff;
        acc &= (1 << bits) - 1;
      }
    }
    if (acc !== 0) return null; // non-zero unused bits: not canonical
    return out;
  }

  /** Bytes to padded base64url, as Python's cryptography writes it. */
  function encodeBase64url(bytes) {
    let out = "";
    for (let i = 0; i < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
      const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
      for (let j = 0; j < 4; j++) {
        out += j < chars ? ALPHABET[(n >> (18 - 6 * j)) & 63] : "=";
      }
    }
    return out;
  }

  /** A room key: the 44-character text imported as an HMAC key and an
   *  AES-CBC key, neither extractable. */
  async function importKey(text) {
    const raw = KEY_TEXT.test(text) ? decodeBase64url(text) : null;
    if (raw === null || raw.length !== 32) {
      throw new Error("a key is 44 characters of base64url, as `fernchat keygen` writes it");
    }
    const subtle = crypto.subtle;
    const [mac, aes] = await Promise.all([
      subtle.importKey("raw", raw.slice(0, 16), { name: "HMAC", hash: "SHA-256" }, false, [
        "sign",
        "verify",
      ]),
      subtle.importKey("raw", raw.slice(16, 32), { name: "AES-CBC" }, false, [
        "encrypt",
        "decrypt",
      ]),
    ]);
    raw.fill(0);
    return { mac, aes };
  }

  /** The keys of a key file's text (docs/PROTOCOL.md section 4): one a
   *  line, blank lines and `#` comments skipped, 1 to 4 keys, the first
   *  encrypts. A single key, or keys separated by commas, works too. */
  async function importKeys(text) {
    const lines = text
      .replace(/^\uFEFF/, "")
      .split(/[\n,]/)
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"));
    if (lines.length === 0) throw new Error("no key given");
    if (lines.length > MAX_KEYS) throw new Error(`at most ${MAX_KEYS} keys`);
    return Promise.all(lines.map(importKey));
  }

  /** Seals `plaintext` (bytes) with the first key at Unix time `now`
   *  (seconds), with `iv` (16 bytes; fresh random ones if not given). */
  async function encrypt(keys, plaintext, now, iv = crypto.getRandomValues(new Uint8Array(IV_LEN))) {
    const key = keys[0];
    const ciphertext = new Uint8Array(
      await crypto.subtle.encrypt({ name: "AES-CBC", iv }, key.aes, plaintext),
    );
    const signed = new Uint8Array(HEADER_LEN + ciphertext.length + TAG_LEN);
    signed[0] = VERSION;
    new DataView(signed.buffer).setBigUint64(1, BigInt(now));
    signed.set(iv, 9);
    signed.set(ciphertext, HEADER_LEN);
    const body = signed.subarray(0, HEADER_LEN + ciphertext.length);
    const tag = new Uint8Array(await crypto.subtle.sign("HMAC", key.mac, body));
    signed.set(tag, body.length);
    return encodeBase64url(signed);
  }

  /** Opens a token with every key in turn at Unix time `now` (seconds),
   *  refusing tokens older than `ttl` seconds if a TTL is given. Gives
   *  `{ timestamp, tag, plaintext }` or throws a FernetError whose
   *  `reason` is one of TokenError. */
  async function decrypt(keys, token, now, ttl) {
    if (token.length % 4 !== 0 || token.length < MIN_TOKEN_CHARS || token.length > MAX_TOKEN_CHARS) {
      throw new FernetError(TokenError.Malformed);
    }
    const bytes = decodeBase64url(token);
    if (
      bytes === null ||
      bytes.length < MIN_TOKEN_BYTES ||
      (bytes.length - HEADER_LEN - TAG_LEN) % 16 !== 0 ||
      bytes[0] !== VERSION
    ) {
      throw new FernetError(TokenError.Malformed);
    }
    const signed = bytes.subarray(0, bytes.length - TAG_LEN);
    const tag = bytes.slice(bytes.length - TAG_LEN);
    let key = null;
    for (const k of keys) {
      if (await crypto.subtle.verify("HMAC", k.mac, tag, signed)) {
        key = k;
        break;
      }
    }
    if (key === null) throw new FernetError(TokenError.BadMac);
    const timestamp = new DataView(bytes.buffer).getBigUint64(1);
    const nowBig = BigInt(now);
    if (timestamp > nowBig + MAX_CLOCK_SKEW) throw new FernetError(TokenError.FromTheFuture);
    if (ttl !== undefined && ttl !== null && timestamp + BigInt(ttl) < nowBig) {
      throw new FernetError(TokenError.Expired);
    }
    const iv = bytes.slice(9, HEADER_LEN);
    let plaintext;
    try {
      plaintext = await crypto.subtle.decrypt(
        { name: "AES-CBC", iv },
        key.aes,
        bytes.subarray(HEADER_LEN, bytes.length - TAG_LEN),
      );
    } catch {
      throw new FernetError(TokenError.BadPadding);
    }
    return { timestamp: Number(timestamp), tag, plaintext: new Uint8Array(plaintext) };
  }

  return Object.freeze({
    TokenError,
    FernetError,
    MAX_CLOCK_SKEW: Number(MAX_CLOCK_SKEW),
    decodeBase64url,
    encodeBase64url,
    importKey,
    importKeys,
    encrypt,
    decrypt,
  });
})();
