"""The page against a full relay: it shows the relay's notice, keeps trying
with back-off, and gets in once a slot is free.

    web_notice.py PAGE_DIR WS_URL KEY

Opens PAGE_DIR/index.html as a saved copy pointed at the relay's WS_URL:
with --max-clients 1 the relay also refuses the browser's parallel
requests for the page's files while one is under way (its handshake limit
is --max-clients), so the served page would not load reliably here.

Asks the Rust test to make room with `ANN-QUIT` on stdout (answered `ok`
on stdin), as web_chat.py does. Prints `web notice: all checks passed`.
"""
import pathlib
import sys

from chromium import Browser
from web_chat import ann, check


def main():
    page_dir, ws, key = sys.argv[1:4]
    page = (pathlib.Path(page_dir).resolve() / "index.html").as_uri()
    with Browser() as browser:
        browser.driver.get(f"{page}#k={key}&nick=late&ws={ws}")
        line = browser.wait_line("[!] the relay is full; reconnecting")
        print(f"ok the relay's notice is shown: {line!r}", flush=True)
        browser.wait("a second refusal", lambda d: d.execute_script("return fernchatPage.stats.notices") >= 2)
        ann("QUIT", "")
        browser.wait_line("back in the room at ws", timeout=30)
        status = browser.driver.find_element("id", "status").text
        check(f"back in the room: {status!r}", status.startswith("connected to ws://"))
        check("the notice is said once, not at every try",
              [l for l in browser.log_lines() if "full" in l] == [line])
        stats = browser.driver.execute_script("return fernchatPage.stats")
        check(f"notices counted, nothing dropped: {stats}", stats["notices"] >= 2 and stats["dropped"] == 0)
    print("web notice: all checks passed", flush=True)


if __name__ == "__main__":
    main()
