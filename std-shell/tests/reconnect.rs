//! A relay that goes away and comes back, or turns a client away: clients
//! carry on, deliver what was typed meanwhile, and say what happened.

use fernchat_tests::peer::Peer;
use fernchat_tests::process::{start_relay, start_relay_on};
use fernchat_tests::std_client::{StdClient, keygen};
use std::path::Path;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_fernchat");
const WAIT: Duration = Duration::from_secs(30);

#[test]
fn two_clients_carry_on_after_a_relay_restart() {
    let (key_file, _) = keygen(Path::new(BIN), "restart");
    let relay = start_relay(BIN, &[]);
    let addr = relay.addr.to_string();
    let mut ann = StdClient::start(Path::new(BIN), &addr, "ann", &key_file);
    relay.wait_for_log("connected (1 clients)", WAIT);
    let mut bob = StdClient::start(Path::new(BIN), &addr, "bob", &key_file);
    ann.expect("bob joined");
    ann.type_line("before");
    bob.expect("<ann> before");

    drop(relay);
    ann.expect_note("reconnecting");
    bob.expect_note("reconnecting");
    ann.type_line("typed while the relay was away");

    let relay = start_relay_on(BIN, &addr, &[]);
    relay.wait_for_log("connected (2 clients)", WAIT);
    ann.expect_note("back in the room");
    bob.expect_note("back in the room");
    bob.expect("<ann> typed while the relay was away");
    bob.type_line("after");
    ann.expect("<bob> after");
    // Said once per absence.
    let notes = [ann.notes_so_far(), bob.notes_so_far()].concat();
    assert!(
        notes.iter().all(|n| !n.contains("reconnecting")),
        "{notes:?}"
    );
    assert!(ann.quit());
    assert!(bob.quit());
}

#[test]
fn turned_away_by_a_full_relay() {
    let (key_file, key) = keygen(Path::new(BIN), "full");
    let relay = start_relay(BIN, &["--max-clients", "2"]);
    let addr = relay.addr.to_string();
    let mut ann = Peer::connect(relay.addr, &key, "ann");
    let seat = Peer::connect(relay.addr, &key, "seat");
    relay.wait_for_log("connected (2 clients)", WAIT);

    // Without reconnecting: the notice, and exit status 1.
    let mut once = StdClient::start_with(
        Path::new(BIN),
        &addr,
        "once",
        &key_file,
        &["--no-reconnect"],
    );
    let note = once.expect_note("full");
    assert_eq!(
        note,
        "fernchat: the relay closed the connection: the relay is full"
    );
    assert_eq!(once.guard.wait_exit(WAIT).and_then(|s| s.code()), Some(1));

    // Reconnecting: says so, keeps what is typed, gets in when a seat frees.
    let mut bob = StdClient::start(Path::new(BIN), &addr, "bob", &key_file);
    bob.expect_note("the relay is full; reconnecting");
    bob.type_line("waited for a seat");
    drop(seat);
    bob.expect_note("back in the room");
    assert_eq!(
        ann.receive(2, WAIT),
        ["bob joined", "<bob> waited for a seat"]
    );
    bob.close_input();
    assert!(bob.guard.wait_exit(WAIT).is_some_and(|s| s.success()));
}

#[test]
fn piped_input_that_was_not_delivered_exits_nonzero() {
    let (key_file, _) = keygen(Path::new(BIN), "undelivered");
    let relay = start_relay(BIN, &[]);
    let addr = relay.addr.to_string();
    let mut bot =
        StdClient::start_with(Path::new(BIN), &addr, "bot", &key_file, &["--no-reconnect"]);
    relay.wait_for_log("connected (1 clients)", WAIT);
    // Without reconnecting it exits 1 as soon as the relay is gone (so
    // nothing more can be typed).
    drop(relay);
    assert_eq!(bot.guard.wait_exit(WAIT).and_then(|s| s.code()), Some(1));
    bot.expect_note("server");

    // Reconnecting, the bot waits for the relay (30 s) before it gives up.
    let relay = start_relay(BIN, &[]);
    let addr = relay.addr.to_string();
    let mut bot = StdClient::start(Path::new(BIN), &addr, "bot", &key_file);
    relay.wait_for_log("connected (1 clients)", WAIT);
    drop(relay);
    bot.expect_note("reconnecting");
    bot.type_line("nobody hears this either");
    bot.close_input();
    let waited = Duration::from_secs(45);
    assert_eq!(bot.guard.wait_exit(waited).and_then(|s| s.code()), Some(1));
    bot.expect_note("1 typed line(s) not delivered");
}
