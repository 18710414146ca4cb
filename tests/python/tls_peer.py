"""`docs/PROTOCOL.md` section 8 over TLS (section 12), as in the README: a
Python client that trusts the relay's certificate, sends one message and
prints the plaintext of the next frame it receives.

    tls_peer.py KEY_FILE CA_FILE HOST PORT
"""
import socket
import ssl
import sys

from cryptography.fernet import Fernet

key_file, ca_file, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
f = Fernet(open(key_file, "rb").read().split()[0])
context = ssl.create_default_context(cafile=ca_file)
s = context.wrap_socket(socket.create_connection((host, port), timeout=20), server_hostname=host)
s.sendall(f.encrypt(b"py\nhello over TLS") + b"\n")
lines = s.makefile("rb")
print(f.decrypt(lines.readline().strip()).decode(), flush=True)
