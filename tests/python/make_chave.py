"""Writes a pickle as Python does, for the key import tests.

    make_chave.py KIND PATH [ARG]

KIND is one of:
- fernet-N: a `Fernet` of a new key pickled with protocol N (0 to 5), as
  the Python chat's `chave.key`; prints the key.
- evil: a pickle whose loading runs `os.system("touch ARG")`.
- other: a pickle of another class (`datetime.date`).
- short-key, long-key: a `Fernet` whose `_signing_key` is 15 or 32 bytes.
"""
import datetime
import os
import pickle
import sys

from cryptography.fernet import Fernet

kind, path = sys.argv[1], sys.argv[2]


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch '{sys.argv[3]}'",))


protocol = 4
if kind.startswith("fernet-"):
    protocol = int(kind.removeprefix("fernet-"))
    key = Fernet.generate_key()
    value = Fernet(key)
    print(key.decode())
elif kind == "evil":
    value = Evil()
elif kind == "other":
    value = datetime.date(2020, 1, 1)
elif kind in ("short-key", "long-key"):
    value = Fernet(Fernet.generate_key())
    value._signing_key = b"k" * (15 if kind == "short-key" else 32)
else:
    sys.exit(f"unknown kind {kind}")
with open(path, "wb") as out:
    pickle.dump(value, out, protocol=protocol)
