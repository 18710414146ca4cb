"""Headless Debian Chromium driven through WebDriver (selenium), offline:
chromedriver is /usr/bin/chromedriver (or $FERNCHAT_CHROMEDRIVER), the
browser /usr/bin/chromium (or $FERNCHAT_CHROMIUM), and selenium-manager
never downloads anything (SE_OFFLINE)."""
import json
import os
import shutil
import sys
import tempfile

os.environ["SE_OFFLINE"] = "true"

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = os.environ.get("FERNCHAT_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("FERNCHAT_CHROMEDRIVER", "/usr/bin/chromedriver")
WAIT = 30  # seconds for anything the page should do (CI machines are busy)


class Browser:
    """One headless Chromium with a fresh profile, removed on close."""

    def __init__(self, *extra_args):
        self.profile = tempfile.mkdtemp(prefix="fernchat-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--no-first-run",
            "--no-default-browser-check",
            "--window-size=1000,700",
            f"--user-data-dir={self.profile}",
            *extra_args,
        ):
            options.add_argument(arg)
        # Every request the browser makes, to check that no key leaves it.
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        service = Service(executable_path=CHROMEDRIVER)
        self.driver = webdriver.Chrome(service=service, options=options)
        self.driver.set_script_timeout(WAIT)

    def wait(self, what, condition, timeout=WAIT):
        """Waits for `condition(driver)` to be true; fails naming `what`."""
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(condition)
        except Exception:
            log = self.driver.execute_script(
                "const l = document.getElementById('log'); return l ? l.innerText : document.body.innerText")
            sys.exit(f"browser: {what} did not happen within {timeout} s; the page shows:\n{log}")

    def log_lines(self):
        """The lines of the page's chat log, as shown."""
        return self.driver.execute_script(
            "return Array.from(document.querySelectorAll('#log .line'), l => l.textContent)")

    def wait_line(self, text, timeout=WAIT):
        """Waits for a log line that contains `text`; gives it."""
        found = []

        def seen(_):
            found[:] = [line for line in self.log_lines() if text in line]
            return bool(found)

        self.wait(f"a line with {text!r}", seen, timeout)
        return found[0]

    def type_line(self, text):
        """Types `text` into the message box and presses Enter."""
        box = self.driver.find_element("id", "line")
        self.wait("the message box enabled", lambda _: box.is_enabled())
        box.send_keys(text + "\n")

    def requests(self):
        """What the browser sent so far, from its network log: each
        request's URL and headers, and each WebSocket handshake's, as one
        text each."""
        sent = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message["method"] == "Network.requestWillBeSent":
                request = params["request"]
                sent.append(f"{request['url']} {json.dumps(request.get('headers', {}))}")
            elif message["method"] == "Network.webSocketWillSendHandshakeRequest":
                request = params["request"]
                sent.append(f"websocket {json.dumps(request.get('headers', {}))}")
            elif message["method"] == "Network.webSocketCreated":
                sent.append(f"websocket {params['url']}")
        return sent

    def close(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
