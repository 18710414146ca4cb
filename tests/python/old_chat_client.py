"""The original Python chat's client, as it was written, made
non-interactive: its key is a pickled `Fernet` in `chave.key`; it sends each
message with `send()` and no line feed, and reads with `recv(4096)` and
decrypts each chunk. Only `input()` became the lines of stdin, and the
prints are flushed.

    old_chat_client.py CHAVE_KEY HOST PORT
"""
import pickle
import socket
import sys
import threading

host, port = sys.argv[2], int(sys.argv[3])
with open(sys.argv[1], "rb") as arquivo:
    chave = pickle.load(arquivo)

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect((host, port))


def receber():
    while True:
        dados = s.recv(4096)
        if not dados:
            break
        print(chave.decrypt(dados).decode(), flush=True)


threading.Thread(target=receber, daemon=True).start()
for linha in sys.stdin:
    s.send(chave.encrypt(linha.rstrip("\n").encode()))
s.close()
