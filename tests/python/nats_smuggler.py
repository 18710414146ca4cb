"""Publishes on a fernchat room's subject what a payload must never be
(`docs/PROTOCOL.md` section 12, Payload: one token and nothing else), then
one genuine token, and says `published`.

    nats_smuggler.py KEY_FILE NATS_URL ROOM

The payloads, in order: a token behind `AAAA` and a line feed, two tokens
on two lines, two tokens glued together, a token with a line feed after it;
then `natspy LF genuine`.
"""
import asyncio
import sys

import nats
from cryptography.fernet import Fernet


async def main():
    key_file, url, room = sys.argv[1], sys.argv[2], sys.argv[3]
    f = Fernet(open(key_file, "rb").read().split()[0])
    token = lambda text: f.encrypt(b"natspy\n" + text.encode())
    nc = await nats.connect(url, no_echo=True)
    subject = f"fernchat.{room}"
    for payload in [
        b"AAAA\n" + token("smuggled"),
        token("two-1") + b"\n" + token("two-2"),
        token("glued-1") + token("glued-2"),
        token("trailing") + b"\n",
    ]:
        await nc.publish(subject, payload)
    await nc.publish(subject, token("genuine"))
    await nc.flush()
    print("published", flush=True)
    await nc.drain()


asyncio.run(main())
