"""The page when its relay goes away and comes back on the same ports: it
says so once, keeps what is typed meanwhile, reconnects with back-off and
then sends what waited.

    web_reconnect.py PAGE_URL KEY TCP_HOST:PORT

Asks the Rust test to stop and restart the relay with `RELAY-STOP` and
`RELAY-START` on stdout (answered `ok` on stdin). Prints
`web reconnect: all checks passed`.
"""
import sys

from chromium import Browser
from web_chat import PythonPeer, check, open_page


def relay(verb):
    print(f"RELAY-{verb}", flush=True)
    if sys.stdin.readline().strip() != "ok":
        sys.exit(f"FAIL the relay did not {verb.lower()}")


def main():
    page, key, tcp = sys.argv[1:4]
    with Browser() as browser:
        open_page(browser, page, key, "web")
        relay("STOP")
        line = browser.wait_line("[!] the relay closed the connection; reconnecting")
        print(f"ok the page says the relay went away: {line!r}", flush=True)
        browser.type_line("typed while away")
        browser.wait("a failed attempt", lambda d: "trying again" in d.find_element("id", "status").text)
        relay("START")
        # The Python client is in before the page's next attempt, and the page
        # sends what waited only once it is back (1 s in the room).
        py = PythonPeer(key, tcp, None)
        py.send("/join")
        py.expect("web\ntyped while away", timeout=60)
        back = browser.wait_line("back in the room at ws://")
        print(f"ok {back!r}", flush=True)
        py.send("welcome back")
        browser.wait_line("<py> welcome back")
        lines = browser.log_lines()
        check("the page said the relay went away once",
              sum("closed the connection" in l for l in lines) == 1, lines)
        check("the waiting line was sent once, after the return",
              sum(l.endswith("<web> typed while away") for l in lines) == 1, lines)
        py.close()
    print("web reconnect: all checks passed", flush=True)


if __name__ == "__main__":
    main()
