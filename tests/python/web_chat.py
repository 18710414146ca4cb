"""A browser, a Python client and (through the Rust test) a `fernchat
client` in one room; the Rust test runs the relay and the CLI client.

    web_chat.py PAGE_URL PAGE_DIR KEY WRONG_KEY TCP_HOST:PORT SCREENSHOT [CA_CERT]

PAGE_URL is the relay's page (http://127.0.0.1:PORT/, or https:// with
CA_CERT, the relay's self-signed certificate: Chromium is told to trust
its public key, and the Python client speaks TLS to the TCP port with it).
PAGE_DIR holds the page's files, opened as a saved copy pointed at the
relay's /ws.
The script asks the Rust test to act for the CLI client `ann` with lines
on stdout, answered by `ok` on stdin:

    ANN-EXPECT TEXT   wait for ann to show a line ending with TEXT
    ANN-TYPE TEXT     type TEXT into ann

Prints `ok ...` for each check and `web chat: all checks passed` at the end.
"""
import base64
import hashlib
import pathlib
import socket
import ssl
import sys
import time
import urllib.parse

from cryptography import x509
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import serialization
from selenium.common.exceptions import NoAlertPresentException

from chromium import Browser

XSS = "<img src=x onerror=alert(1)>"


def check(what, ok, detail=""):
    if not ok:
        sys.exit(f"FAIL {what} {detail}")
    print(f"ok {what}", flush=True)


def ann(verb, text):
    """Asks the Rust test to act for the CLI client and waits for its ok."""
    print(f"ANN-{verb} {text}", flush=True)
    answer = sys.stdin.readline().strip()
    if answer != "ok":
        sys.exit(f"FAIL ann {verb.lower()} {text!r}: {answer or 'no answer'}")


class PythonPeer:
    """docs/PROTOCOL.md section 8's Python client, on TCP or TLS."""

    def __init__(self, key, addr, ca_cert):
        host, port = addr.rsplit(":", 1)
        sock = socket.create_connection((host, int(port)), timeout=30)
        if ca_cert:
            context = ssl.create_default_context(cafile=ca_cert)
            sock = context.wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.reader = sock.makefile("rb")
        self.fernet = Fernet(key)
        self.seen = []

    def send(self, body, at=None):
        """Sends `py LF body`, sealed now or at Unix time `at`; gives the token."""
        payload = b"py\n" + body.encode()
        token = self.fernet.encrypt_at_time(payload, at) if at else self.fernet.encrypt(payload)
        self.send_token(token)
        return token

    def send_token(self, token):
        self.sock.sendall(token + b"\n")

    def expect(self, payload, timeout=30):
        """Reads frames until one opens to `payload` (`nick LF body`)."""
        deadline = time.monotonic() + timeout
        while payload not in self.seen:
            if time.monotonic() > deadline:
                sys.exit(f"FAIL python did not get {payload!r}; got {self.seen}")
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            line = self.reader.readline()
            if not line:
                sys.exit(f"FAIL the relay closed python's connection; got {self.seen}")
            try:
                self.seen.append(self.fernet.decrypt(line.strip(), ttl=300).decode())
            except InvalidToken:
                self.seen.append("<invalid>")

    def close(self):
        self.send("/leave")
        self.sock.close()


def spki_hash(cert_path):
    """base64(SHA-256(SubjectPublicKeyInfo)), as Chromium's
    --ignore-certificate-errors-spki-list takes it."""
    cert = x509.load_pem_x509_certificate(open(cert_path, "rb").read())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def open_page(browser, page, key, nick, ws=None, paste=False):
    """Opens the page with the key in the fragment, or pasted into its form
    (and the relay's /ws, for a saved copy); waits until in the room."""
    relay = f"&ws={ws}" if ws else ""
    if paste:
        browser.driver.get(f"{page}#nick={nick}{relay}")
        browser.driver.find_element("id", "key").send_keys(key)
        browser.driver.find_element("id", "connect").click()
    else:
        browser.driver.get(f"{page}#k={key}&nick={nick}{relay}")
    browser.wait(f"{nick} connected", lambda d: d.find_element("id", "status").text.startswith(
        "connected to"))
    href = browser.driver.current_url
    check(f"{nick}: the key is gone from the address bar ({href})", key not in href and "#k=" not in href and "&k=" not in href)
    html = browser.driver.execute_script(
        "return document.documentElement.outerHTML + Array.from(document.querySelectorAll('input'),"
        " i => i.value).join(' ')")
    check(f"{nick}: the key is nowhere in the page", key not in html)


def main():
    page, page_dir, key, wrong_key, tcp, screenshot = sys.argv[1:7]
    ca_cert = sys.argv[7] if len(sys.argv) > 7 else None
    args = []
    if ca_cert:
        # A browser not told to trust the self-signed certificate stops at
        # its warning: the page never runs.
        with Browser() as untrusting:
            untrusting.driver.get(f"{page}#k={key}&nick=web")
            ran = untrusting.driver.execute_script("return typeof fernchatPage !== 'undefined'")
            check("an untrusting browser does not run the page", not ran)
        args = [f"--ignore-certificate-errors-spki-list={spki_hash(ca_cert)}"]
    with Browser(*args) as browser:
        driver = browser.driver
        open_page(browser, page, key, "web")
        ann("EXPECT", "web joined")

        py = PythonPeer(key, tcp, ca_cert)
        py.send("/join")
        py.send("hello from python")
        browser.wait_line("py joined")
        check("browser sees the Python client", browser.wait_line("<py> hello from python")
              .endswith("] <py> hello from python"))
        ann("EXPECT", "<py> hello from python")

        browser.type_line("hello from the browser")
        ann("EXPECT", "<web> hello from the browser")
        py.expect("web\nhello from the browser")
        print("ok the CLI and Python see the browser's message", flush=True)

        ann("TYPE", "hi from ann")
        line = browser.wait_line("<ann> hi from ann")
        check(f"browser sees the CLI client with its time: {line!r}",
              line.startswith("[") and line.index("]") in (6, 17))
        py.expect("ann\nhi from ann")

        browser.type_line("/me waves")
        ann("EXPECT", "* web waves")
        browser.type_line("//slash")
        ann("EXPECT", "<web> /slash")
        py.expect("web\n//slash")

        # Markup from a peer, and typed in the page, shows as text and runs nothing.
        py.send(XSS)
        browser.wait_line(f"<py> {XSS}")
        browser.type_line(XSS)
        ann("EXPECT", f"<web> {XSS}")
        time.sleep(0.5)  # time for an error handler to fire, were there an image
        try:
            text = driver.switch_to.alert.text
            sys.exit(f"FAIL an alert ran: {text!r}")
        except NoAlertPresentException:
            pass
        images = driver.execute_script("return document.getElementsByTagName('img').length")
        literal = [line for line in browser.log_lines() if line.endswith(f"<py> {XSS}")]
        check("markup shows as its literal text, no image, no alert", images == 0 and literal)

        driver.save_screenshot(screenshot)
        print(f"screenshot: {screenshot}", flush=True)

        # A saved copy of the page, opened from a file, pointed at the relay's /ws.
        first_tab = driver.current_window_handle
        sent = browser.requests()
        driver.switch_to.new_window("tab")
        ws = page.replace("http", "ws", 1).rstrip("/") + "/ws"
        saved = (pathlib.Path(page_dir).resolve() / "index.html").as_uri()
        open_page(browser, saved, key, "saved", ws)
        ann("EXPECT", "saved joined")
        py.send("to the saved copy")
        browser.wait_line("<py> to the saved copy")
        browser.type_line("from a saved copy")
        ann("EXPECT", "<saved> from a saved copy")
        py.expect("saved\nfrom a saved copy")
        browser.type_line("/quit")
        ann("EXPECT", "saved left")
        print(f"ok a saved copy of the page chats through {ws}", flush=True)
        sent += browser.requests()
        driver.close()
        driver.switch_to.window(first_tab)

        # A wrong key, pasted: the page shows drops, not text.
        driver.switch_to.new_window("tab")
        open_page(browser, page, wrong_key, "eve", paste=True)
        py.send("for the room only")
        drop = browser.wait_line("[!] dropped")
        check(f"a wrong key shows drops: {drop!r}",
              "bad MAC" in drop and not any("for the room only" in l for l in browser.log_lines()))
        sent += browser.requests()
        driver.close()
        driver.switch_to.window(first_tab)
        browser.wait_line("<py> for the room only")

        # A replayed token and an expired one are dropped and counted.
        once = py.send("only once")
        py.send_token(once)
        py.send("from long ago", at=int(time.time()) - 400)
        browser.wait_line("<py> only once")
        browser.wait("drops for the replay and the expired token", lambda _: any(
            "1 replayed" in l for l in browser.log_lines()) and any(
            "1 expired" in l for l in browser.log_lines()))
        lines = browser.log_lines()
        check("a replay and an expired token show as drops, not text",
              sum(l.endswith("<py> only once") for l in lines) == 1
              and not any("from long ago" in l for l in lines))

        sent += browser.requests()
        sockets = [s for s in sent if s.startswith("websocket ")]
        origin = urllib.parse.urlsplit(page).netloc
        urls = [entry.split(" ")[1] if entry.startswith("websocket ") else entry.split(" ")[0]
                for entry in sent]
        external = [u for u in urls if urllib.parse.urlsplit(u).scheme in ("http", "https", "ws", "wss")
                    and urllib.parse.urlsplit(u).netloc != origin]
        check(f"the pages asked nothing of any host but the relay {origin}", not external, external)
        check(f"the key is in none of the {len(sent)} requests the browser sent "
              f"({len(sockets)} WebSocket)",
              sockets and not any(k in s for s in sent for k in (key, wrong_key)))

        browser.type_line("/quit")
        ann("EXPECT", "web left")
        py.expect("web\n/leave")
        py.close()
        stats = driver.execute_script("return fernchatPage.stats")
        # Dropped: eve's /join (another key), the replay, the expired token.
        check(f"page counts {stats}", stats["shown"] >= 6 and stats["dropped"] == 3 and stats["sent"] >= 6)
    print("web chat: all checks passed", flush=True)


if __name__ == "__main__":
    main()
