"""The outside implementation for fernchat's interop tests: Python's
cryptography.fernet, driven by lines on stdin.

    fernet_peer.py encrypt   lines "KEY NOW PLAINTEXT_HEX" -> "TOKEN"
    fernet_peer.py decrypt   lines "KEY TOKEN NOW TTL"     -> "ok PLAINTEXT_HEX" or "invalid"
"""
import sys

from cryptography.fernet import Fernet, InvalidToken


def encrypt(fields):
    key, now, plaintext = fields
    return Fernet(key).encrypt_at_time(bytes.fromhex(plaintext), int(now)).decode()


def decrypt(fields):
    key, token, now, ttl = fields
    try:
        plaintext = Fernet(key).decrypt_at_time(token.encode(), int(ttl), int(now))
    except InvalidToken:
        return "invalid"
    return "ok " + plaintext.hex()


def main():
    handle = {"encrypt": encrypt, "decrypt": decrypt}[sys.argv[1]]
    out = []
    for line in sys.stdin:
        # An empty plaintext leaves a trailing empty field.
        out.append(handle(line.rstrip("\n").split(" ")))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
