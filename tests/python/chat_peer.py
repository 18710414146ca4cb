"""`docs/PROTOCOL.md` section 8, nearly verbatim: a Python client that sends one
message and prints the plaintext of the next two frames it receives.

    chat_peer.py KEY_FILE HOST PORT
"""
import socket
import sys

from cryptography.fernet import Fernet

key_file, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
f = Fernet(open(key_file, "rb").read().split()[0])
s = socket.create_connection((host, port), timeout=20)
s.sendall(f.encrypt(b"py\nhello from python") + b"\n")
lines = s.makefile("rb")
for _ in range(2):
    line = lines.readline()
    print(f.decrypt(line.strip()).decode())
