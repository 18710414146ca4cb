"""A fernchat room member with nats-py alone (`docs/PROTOCOL.md` section 12):
it subscribes to the room's subject, says `ready`, prints the next message
from the room (decrypted, `nick> text`), then publishes one of its own.

    nats_peer.py KEY_FILE NATS_URL ROOM
"""
import asyncio
import sys

import nats
from cryptography.fernet import Fernet


async def main():
    key_file, url, room = sys.argv[1], sys.argv[2], sys.argv[3]
    f = Fernet(open(key_file, "rb").read().split()[0])
    nc = await nats.connect(url, no_echo=True)
    sub = await nc.subscribe(f"fernchat.{room}")
    await nc.flush()
    print("ready", flush=True)
    msg = await sub.next_msg(timeout=20)
    nick, text = f.decrypt(msg.data).decode().split("\n", 1)
    print(f"{nick}> {text}", flush=True)
    await nc.publish(f"fernchat.{room}", f.encrypt(b"natspy\nhello from nats-py"))
    await nc.drain()


asyncio.run(main())
