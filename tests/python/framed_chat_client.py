"""A framed Python client (`docs/PROTOCOL.md` section 8) that chats: it
sends `nick LF /join`, then each line of stdin as `nick LF line`, one frame
each; it prints every frame it receives as fernchat's client shows it
(`<nick> text`, `nick joined`), with `?` for a payload that names no sender.

    framed_chat_client.py KEY_FILE HOST PORT NICK
"""
import socket
import sys
import threading

from cryptography.fernet import Fernet

key_file, host, port, nick = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
f = Fernet(open(key_file, "rb").read().split()[0])
s = socket.create_connection((host, port), timeout=60)


def send(body):
    s.sendall(f.encrypt(f"{nick}\n{body}".encode()) + b"\n")


def show(payload):
    sender, newline, body = payload.partition("\n")
    if not newline or not sender or any(c.isspace() for c in sender):
        sender, body = "?", payload
    if body in ("/join", "/leave"):
        return f"{sender} {'joined' if body == '/join' else 'left'}"
    return f"<{sender}> {body}"


def receive():
    for line in s.makefile("rb"):
        print(show(f.decrypt(line.strip()).decode()), flush=True)


threading.Thread(target=receive, daemon=True).start()
send("/join")
for line in sys.stdin:
    send(line.rstrip("\n"))
send("/leave")
s.close()
