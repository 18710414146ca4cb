// The payload inside a token, `nick LF body` (docs/PROTOCOL.md section 5),
// what a user types (section 7, Sending), and text from a peer made safe to
// show (section 7, Showing text): the same rules as core/src/message.rs,
// core/src/input.rs and core/src/render.rs.
"use strict";

const FernchatMessage = (() => {
  const MAX_NICK = 32; // bytes
  const MAX_PLAINTEXT = 3007; // the largest payload a frame holds
  const UNNAMED = "?";
  const CONTINUATION = "  | ";
  const utf8 = new TextEncoder();
  const lossy = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

  /** Rust's char::is_whitespace (the Unicode White_Space property). */
  function isWhitespace(cp) {
    return (
      (cp >= 0x09 && cp <= 0x0d) ||
      cp === 0x20 ||
      cp === 0x85 ||
      cp === 0xa0 ||
      cp === 0x1680 ||
      (cp >= 0x2000 && cp <= 0x200a) ||
      cp === 0x2028 ||
      cp === 0x2029 ||
      cp === 0x202f ||
      cp === 0x205f ||
      cp === 0x3000
    );
  }

  /** Rust's char::is_control: C0, DEL and C1. */
  function isControl(cp) {
    return cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f);
  }

  /** core::render::is_hidden: invisible or reordering format characters. */
  function isHidden(cp) {
    return (
      cp === 0xad ||
      cp === 0x61c ||
      cp === 0x180e ||
      cp === 0x200b ||
      cp === 0x200e ||
      cp === 0x200f ||
      (cp >= 0x2028 && cp <= 0x202e) ||
      (cp >= 0x2060 && cp <= 0x206f) ||
      cp === 0xfeff ||
      (cp >= 0xfff9 && cp <= 0xfffb) ||
      (cp >= 0xe0000 && cp <= 0xe007f)
    );
  }

  /** Why `text` is no nick, or null if it is one. */
  function nickError(text) {
    const len = utf8.encode(text).length;
    if (len === 0 || len > MAX_NICK) return "a nick is 1 to 32 bytes";
    for (const c of text) {
      const cp = c.codePointAt(0);
      if (isWhitespace(cp) || isControl(cp) || isHidden(cp) || cp === 0x200c || cp === 0x200d) {
        return "a nick has no spaces, control characters or invisible characters";
      }
    }
    return null;
  }

  /** Text from a peer as it is shown: C0 controls and DEL in caret
   *  notation, C1 and hidden characters as `\u{202e}`, each LF starting a
   *  continuation line; `text` is already lossily decoded. */
  function shown(text) {
    let out = "";
    for (const c of text) {
      const cp = c.codePointAt(0);
      if (cp === 0x0a) out += "\n" + CONTINUATION;
      else if (cp <= 0x1f || cp === 0x7f) out += "^" + String.fromCharCode(cp ^ 0x40);
      else if (isControl(cp) || isHidden(cp)) out += `\\u{${cp.toString(16)}}`;
      else out += c;
    }
    return out;
  }

  /** Reads a decrypted payload (bytes); never fails. Gives
   *  `{ nick, kind, text }`: nick null for an unnamed sender, kind one of
   *  "text", "me", "join", "leave", text a string (lossy UTF-8). */
  function parse(plaintext) {
    const lf = plaintext.indexOf(0x0a);
    let nick = null;
    let body = plaintext;
    if (lf >= 0) {
      let first = null;
      try {
        first = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
          plaintext.subarray(0, lf),
        );
      } catch {
        first = null;
      }
      if (first !== null && nickError(first) === null) {
        nick = first;
        body = plaintext.subarray(lf + 1);
      }
    }
    const text = lossy.decode(body);
    if (text === "/join") return { nick, kind: "join", text: "" };
    if (text === "/leave") return { nick, kind: "leave", text: "" };
    if (text === "/me") return { nick, kind: "me", text: "" };
    if (startsWithBytes(body, "/me ")) return { nick, kind: "me", text: lossy.decode(body.subarray(4)) };
    if (startsWithBytes(body, "//")) return { nick, kind: "text", text: lossy.decode(body.subarray(1)) };
    return { nick, kind: "text", text };
  }

  function startsWithBytes(bytes, ascii) {
    if (bytes.length < ascii.length) return false;
    for (let i = 0; i < ascii.length; i++) {
      if (bytes[i] !== ascii.charCodeAt(i)) return false;
    }
    return true;
  }

  /** A message as the CLI shows it after its time: `<nick> text`,
   *  `* nick action`, `nick joined`, `nick left`, made safe by `shown`. */
  function describe(message) {
    const nick = shown(message.nick ?? UNNAMED);
    switch (message.kind) {
      case "join":
        return `${nick} joined`;
      case "leave":
        return `${nick} left`;
      case "me":
        return `* ${nick} ${shown(message.text)}`;
      default:
        return `<${nick}> ${shown(message.text)}`;
    }
  }

  /** The payload bytes `nick LF body` for `kind` ("text", "me", "join",
   *  "leave") and `text`, a text starting with `/` escaped as `//`. */
  function encode(nick, kind, text = "") {
    let body;
    if (kind === "join") body = "/join";
    else if (kind === "leave") body = "/leave";
    else if (kind === "me") body = "/me " + text;
    else body = text.startsWith("/") ? "/" + text : text;
    return utf8.encode(`${nick}\n${body}`);
  }

  /** A typed line, understood as core's Input::parse does: `{ send: {kind,
   *  text} }`, `{ quit }`, `{ help }`, `{ nothing }` or `{ unknown: word }`. */
  function parseInput(line) {
    line = line.replace(/[\r\n]+$/, "");
    if (line.startsWith("//")) return { send: { kind: "text", text: line.slice(1) } };
    if (line === "") return { nothing: true };
    if (line === "/quit" || line === "/exit") return { quit: true };
    if (line === "/help") return { help: true };
    if (line === "/me") return { send: { kind: "me", text: "" } };
    if (line.startsWith("/me ")) return { send: { kind: "me", text: line.slice(4) } };
    if (line.startsWith("/")) return { unknown: line.split(/\s/)[0] };
    return { send: { kind: "text", text: line } };
  }

  const HELP =
    "type a message and press Enter; /me TEXT for an action; " +
    "//TEXT sends a message starting with /; /quit leaves";

  return Object.freeze({
    MAX_PLAINTEXT,
    HELP,
    nickError,
    shown,
    parse,
    describe,
    encode,
    parseInput,
  });
})();
