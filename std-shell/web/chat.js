// The page's chat client: the key from the URL fragment (#k=...) or pasted,
// a WebSocket to the relay's /ws (one text message = one token), and the
// client rules of docs/PROTOCOL.md section 7: /join on connect, /leave on
// /quit, TTL 300 s, 60 s future skew, a replay cache, drop reports at most
// once a second, relay notices, reconnection with back-off. Everything a
// peer sends is put in the page as text (textContent), never as HTML.
"use strict";

(() => {
  const { TokenError, FernetError } = FernchatFernet;
  const Message = FernchatMessage;
  const TTL = 300; // seconds, the CLI's default (--ttl)
  const QUEUE_LINES = 100; // lines kept while the relay is away
  const FIRST_WAIT_MS = 250;
  const MAX_WAIT_MS = 30000;
  const MAX_FRAME_TEXT = 4095; // a frame is at most 4096 bytes with its LF
  const TOKEN_TEXT = /^[A-Za-z0-9_=-]*$/;
  const NOTICES = new Map([
    ["!full", "the relay is full"],
    ["!busy", "too many connections from this address"],
    ["!timeout", "no valid frame in time"],
    ["!slow", "frames waited too long for this connection"],
    ["!invalid", "too many invalid frames"],
    ["!tls", "this port speaks TLS: connect with --tls"],
  ]);
  // The order of the drop report, as core's DropReason::ALL.
  const REASONS = [
    TokenError.Expired,
    TokenError.FromTheFuture,
    "replayed",
    "too old for the replay cache to tell if it is a replay",
    TokenError.BadMac,
    TokenError.BadPadding,
    TokenError.Malformed,
    "frame holds a byte outside base64url",
    "frame longer than 4096 bytes",
  ];

  const $ = (id) => document.getElementById(id);
  const log = $("log");
  const status = $("status");
  const joinForm = $("join");
  const lineInput = $("line");

  const state = {
    keys: null,
    nick: null,
    url: null,
    socket: null,
    attempts: 0,
    opened: false, // the current socket got through to the relay
    notice: null, // what the relay's notice on this connection said
    inRoom: false,
    quitting: false,
    waiting: [], // lines typed while the relay is away
    replay: new FernchatReplay(TTL + FernchatFernet.MAX_CLOCK_SKEW),
    drops: new Map(),
    dropTimer: null,
    inbox: Promise.resolve(), // received frames, handled one after another
    outbox: Promise.resolve(), // typed lines, sealed and sent one after another
    stats: { shown: 0, dropped: 0, notices: 0, sent: 0 },
  };

  const nowSeconds = () => Math.floor(Date.now() / 1000);

  /** Adds one line to the log, as text. */
  function show(text, kind) {
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    const line = document.createElement("div");
    line.className = `line ${kind}`;
    line.textContent = text;
    log.append(line);
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  /** `[HH:MM]` in local time from a token's timestamp, with the date when
   *  it is not today; `[--:--]` when out of range. */
  function stamp(seconds) {
    const when = new Date(seconds * 1000);
    if (Number.isNaN(when.getTime())) return "[--:--]";
    const two = (n) => String(n).padStart(2, "0");
    const time = `${two(when.getHours())}:${two(when.getMinutes())}`;
    const today = new Date();
    if (when.toDateString() === today.toDateString()) return `[${time}]`;
    return `[${when.getFullYear()}-${two(when.getMonth() + 1)}-${two(when.getDate())} ${time}]`;
  }

  function setStatus(text) {
    status.textContent = text;
  }

  /** Reads `k`, `nick` and `ws` from the fragment (never sent to a
   *  server), then removes the key from the address bar and history. */
  function readFragment() {
    const params = new URLSearchParams(location.hash.slice(1));
    const key = params.get("k");
    params.delete("k");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
    return { key, nick: params.get("nick"), ws: params.get("ws") };
  }

  /** The page's own relay: ws(s)://host/ws, or "" for a page opened from
   *  a file (the user gives the relay's address). */
  function defaultRelay() {
    if (location.protocol === "https:") return `wss://${location.host}/ws`;
    if (location.protocol === "http:") return `ws://${location.host}/ws`;
    return "";
  }

  async function join(keyText) {
    const nick = $("nick").value;
    const url = $("relay").value.trim();
    const nickError = Message.nickError(nick);
    if (nickError) return show(`[!] ${nickError}`, "drop");
    if (!/^wss?:\/\//.test(url)) return show("[!] the relay is a ws:// or wss:// address", "drop");
    try {
      state.keys = await FernchatFernet.importKeys(keyText);
    } catch (e) {
      return show(`[!] ${e.message}`, "drop");
    }
    $("key").value = "";
    state.nick = nick;
    state.url = url;
    joinForm.hidden = true;
    lineInput.disabled = false;
    lineInput.focus();
    connect();
  }

  function connect() {
    setStatus(`connecting to ${state.url}`);
    let socket;
    try {
      socket = new WebSocket(state.url);
    } catch (e) {
      show(`[!] cannot reach ${state.url}: ${e.message}`, "drop");
      return;
    }
    socket.binaryType = "arraybuffer";
    state.socket = socket;
    state.opened = false;
    state.notice = null;
    socket.onopen = () => {
      state.opened = true;
      setStatus(`connected to ${state.url} as ${state.nick}`);
      send("join", "");
      setTimeout(() => cameBack(socket), 1000);
    };
    socket.onmessage = (event) => {
      const data =
        typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data);
      state.inbox = state.inbox.then(() => receive(data, socket)).catch((e) => {
        show(`[!] ${e.message}`, "drop");
      });
    };
    socket.onclose = () => state.inbox.then(() => closed(socket));
  }

  /** Back in the room once a connection lasted 1 s or brought a message:
   *  the back-off starts again and the lines typed meanwhile go out. */
  function cameBack(socket) {
    if (state.socket !== socket || socket.readyState !== WebSocket.OPEN || state.inRoom) return;
    state.inRoom = true;
    if (state.attempts > 0) show(`back in the room at ${state.url}`, "info");
    state.attempts = 0;
    const waiting = state.waiting.splice(0);
    for (const line of waiting) queueTyped(line);
  }

  function closed(socket) {
    if (state.socket !== socket) return;
    state.socket = null;
    state.inRoom = false;
    if (state.quitting) {
      setStatus("left the room");
      return;
    }
    const why =
      state.notice ??
      (state.opened ? "the relay closed the connection" : `cannot reach ${state.url}`);
    const ceiling = Math.min(FIRST_WAIT_MS * 2 ** Math.min(state.attempts, 16), MAX_WAIT_MS);
    const wait = ceiling / 2 + Math.random() * (ceiling / 2);
    if (state.attempts === 0) {
      show(`[!] ${why}; reconnecting (lines typed meanwhile are sent when the relay is back)`, "notice");
    }
    state.attempts += 1;
    setStatus(`${why}; trying again in ${(wait / 1000).toFixed(1)} s`);
    setTimeout(connect, wait);
  }

  /** One WebSocket message: a notice, a keep-alive, or a frame's token. */
  async function receive(data, socket) {
    const text = data.replace(/\r?\n$/, "");
    if (text === "") return; // a keep-alive
    if (NOTICES.has(text)) {
      // Said when the connection closes, which the notice announces.
      state.notice = NOTICES.get(text);
      state.stats.notices += 1;
      return;
    }
    if (text.length > MAX_FRAME_TEXT) return dropped("frame longer than 4096 bytes");
    if (!TOKEN_TEXT.test(text)) return dropped("frame holds a byte outside base64url");
    const now = nowSeconds();
    let opened;
    try {
      opened = await FernchatFernet.decrypt(state.keys, text, now, TTL);
    } catch (e) {
      if (e instanceof FernetError) return dropped(e.reason);
      throw e;
    }
    const seen = state.replay.check(opened.tag, opened.timestamp, now);
    if (seen === "replayed") return dropped("replayed");
    if (seen === "unverifiable") return dropped(REASONS[3]);
    const message = Message.parse(opened.plaintext);
    state.stats.shown += 1;
    show(`${stamp(opened.timestamp)} ${Message.describe(message)}`, "message");
    cameBack(socket);
  }

  /** Counts a dropped frame; the counts are shown at most once a second. */
  function dropped(reason) {
    state.stats.dropped += 1;
    state.drops.set(reason, (state.drops.get(reason) ?? 0) + 1);
    if (state.dropTimer === null) {
      reportDrops();
      state.dropTimer = setTimeout(() => {
        state.dropTimer = null;
        if (state.drops.size > 0) reportDrops();
      }, 1000);
    }
  }

  function reportDrops() {
    let count = 0;
    const parts = [];
    for (const reason of REASONS) {
      const n = state.drops.get(reason);
      if (n) {
        count += n;
        parts.push(`${n} ${reason}`);
      }
    }
    state.drops.clear();
    show(`[!] dropped ${count} message${count === 1 ? "" : "s"}: ${parts.join(", ")}`, "drop");
  }

  /** Seals and sends one payload; false if the relay is not there. */
  async function send(kind, text) {
    const socket = state.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    const payload = Message.encode(state.nick, kind, text);
    const token = await FernchatFernet.encrypt(state.keys, payload, nowSeconds());
    socket.send(token);
    state.stats.sent += 1;
    return true;
  }

  /** Handles typed lines one after another, in the order typed. */
  function queueTyped(line) {
    state.outbox = state.outbox
      .then(() => typed(line))
      .catch((e) => show(`[!] ${e.message}`, "drop"));
  }

  /** What the user typed, read with the CLI's grammar. */
  async function typed(line) {
    const input = Message.parseInput(line);
    if (input.nothing) return;
    if (input.help) return show(Message.HELP, "info");
    if (input.unknown) return show(`[!] unknown command ${input.unknown} (/help lists them)`, "drop");
    if (input.quit) {
      state.quitting = true;
      await send("leave", "");
      state.socket?.close(1000);
      lineInput.disabled = true;
      return show("you left the room", "info");
    }
    const { kind, text } = input.send;
    const length = Message.encode(state.nick, kind, text).length;
    if (length > Message.MAX_PLAINTEXT) {
      const limit = Message.MAX_PLAINTEXT - new TextEncoder().encode(state.nick).length - 1;
      return show(`[!] too long to send: at most ${limit} bytes`, "drop");
    }
    if (!state.inRoom || !(await send(kind, text))) {
      if (state.waiting.length >= QUEUE_LINES) {
        return show(`[!] not sent: ${QUEUE_LINES} lines already wait for the relay`, "drop");
      }
      state.waiting.push(line);
      return;
    }
    const own = { nick: state.nick, kind, text };
    show(`${stamp(nowSeconds())} ${Message.describe(own)}`, "own");
  }

  function start() {
    if (!window.isSecureContext || !window.crypto?.subtle) {
      show(
        "[!] this page needs a secure context for WebCrypto: open it over https://, " +
          "on localhost, or as a saved file",
        "drop",
      );
      joinForm.hidden = true;
      return;
    }
    const fragment = readFragment();
    $("relay").value = fragment.ws ?? defaultRelay();
    if (fragment.nick) $("nick").value = fragment.nick;
    let fragmentKey = fragment.key;
    joinForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const key = fragmentKey ?? $("key").value;
      fragmentKey = null;
      join(key);
    });
    $("send").addEventListener("submit", (event) => {
      event.preventDefault();
      const line = lineInput.value;
      lineInput.value = "";
      queueTyped(line);
    });
    if (fragmentKey) {
      $("key").placeholder = "given in the link";
      if ($("nick").value) joinForm.requestSubmit();
    }
  }

  window.fernchatPage = { stats: state.stats };
  start();
})();
