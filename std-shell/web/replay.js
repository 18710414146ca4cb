// The client's replay cache (docs/PROTOCOL.md section 3, The replay cache;
// core/src/replay.rs): a token is known by the first 8 bytes of its HMAC
// tag and remembered for the window (TTL + 60 s). The same rules as the
// CLI's, in one-second buckets and 8,192 entries:
// - a tag already held is Replayed;
// - a token at or below the floor (the newest timestamp forgotten) is
//   Unverifiable;
// - when full and nothing has expired, the oldest second is forgotten, but
//   only for a token newer than it, and never for one dated after now;
//   tokens dated after now hold at most half of the entries.
"use strict";

class FernchatReplay {
  /** A cache of `capacity` tokens that remembers each for `window` seconds
   *  (null: until room is needed). */
  constructor(window, capacity = 8192) {
    this.window = window;
    this.capacity = capacity;
    this.byId = new Map(); // tag id -> timestamp
    this.bySecond = new Map(); // timestamp -> Set of tag ids
    this.floor = -Infinity;
  }

  /** "new" (and remembered), "replayed" or "unverifiable", for a token
   *  whose MAC and freshness were checked. */
  check(tag, timestamp, now) {
    const id = Array.from(tag.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
    this.expire(now);
    if (this.byId.has(id)) return "replayed";
    if (timestamp <= this.floor) return "unverifiable";
    if (timestamp > now && this.aheadOf(now) >= this.capacity / 2) return "unverifiable";
    if (this.byId.size >= this.capacity) {
      const oldest = Math.min(...this.bySecond.keys());
      if (timestamp > now || timestamp <= oldest) return "unverifiable";
      this.forget(oldest, now);
    }
    this.byId.set(id, timestamp);
    if (!this.bySecond.has(timestamp)) this.bySecond.set(timestamp, new Set());
    this.bySecond.get(timestamp).add(id);
    return "new";
  }

  /** Forgets the seconds that have left the window. */
  expire(now) {
    if (this.window === null) return;
    for (const second of this.bySecond.keys()) {
      if (second < now - this.window) this.forget(second, now);
    }
  }

  /** Forgets one second's tokens; the floor rises to it, never past now. */
  forget(second, now) {
    for (const id of this.bySecond.get(second)) this.byId.delete(id);
    this.bySecond.delete(second);
    this.floor = Math.max(this.floor, Math.min(second, now));
  }

  aheadOf(now) {
    let n = 0;
    for (const [second, ids] of this.bySecond) if (second > now) n += ids.size;
    return n;
  }
}
