"""A Python `cryptography` client of a relay (`docs/PROTOCOL.md` section 8):
sends COUNT messages `NICK I` (I from 0), then prints every message it
receives as `nick<TAB>text` until EXPECT have come (20 s at most).

    relay_peer.py KEY_FILE HOST PORT NICK COUNT EXPECT
"""
import socket
import sys

from cryptography.fernet import Fernet

key_file, host, port, nick = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
count, expect = int(sys.argv[5]), int(sys.argv[6])
f = Fernet(open(key_file, "rb").read().split()[0])
s = socket.create_connection((host, port), timeout=20)
for i in range(count):
    s.sendall(f.encrypt(f"{nick}\n{nick} {i}".encode()) + b"\n")
lines = s.makefile("rb")
for _ in range(expect):
    sender, text = f.decrypt(lines.readline().strip()).decode().split("\n", 1)
    print(f"{sender}\t{text}", flush=True)
