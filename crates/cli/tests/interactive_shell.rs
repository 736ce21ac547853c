//! `kafkit shell` through a pseudo-terminal (expectrl): commands run as on the command line,
//! listings are tables, Tab completes a partial topic name and an option, `use` switches the
//! storage, the history is kept, and a bad line is an error that leaves the shell running.

mod common;

use std::process::Command;
use std::time::Duration;

use common::ok;
use expectrl::{Eof, Expect, Session};

#[test]
fn the_shell_completes_topics_and_options_and_switches_storage() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let main = format!("local:{}", d.join("main").display());
    let other = format!("local:{}", d.join("other").display());
    ok(&main, d, &["touch", "orders-2026-12", "-p", "2"], None);
    ok(&main, d, &["touch", "payments"], None);
    ok(
        &main,
        d,
        &["produce", "orders-2026-12", "--value-type", "json"],
        Some("{\"key\":\"a\",\"value\":{\"amount\":4217}}\n"),
    );
    ok(&other, d, &["touch", "elsewhere-topic"], None);

    let mut command = Command::new(env!("CARGO_BIN_EXE_kafkit"));
    command
        .args(["shell", "--storage", &main])
        .current_dir(d)
        .env("KAFKIT_HOME", d)
        .env("TERM", "xterm")
        .env_remove("KAFKIT_STORAGE")
        .env_remove("KAFKIT_BROKERS");
    let mut shell = Session::spawn(command).unwrap();
    shell.set_expect_timeout(Some(Duration::from_secs(30)));
    let prompt = format!("kafkit {main}> ");
    shell.expect(prompt.as_str()).unwrap();

    // A listing, as a table.
    shell.send_line("ls").unwrap();
    shell.expect("PARTITIONS").unwrap();
    shell.expect("payments").unwrap();
    shell.expect(prompt.as_str()).unwrap();

    // Tab completes the partial topic name and the partial option.
    shell.send("cat orders-2").unwrap();
    shell.send("\t").unwrap();
    shell.expect("orders-2026-12").unwrap();
    shell.send("--value-t").unwrap();
    shell.send("\t").unwrap();
    shell.expect("--value-type").unwrap();
    shell.send_line("json").unwrap();
    // The record's value decoded as JSON: only the command's output holds it so.
    shell.expect("{\"amount\":4217}").unwrap();
    shell.expect(prompt.as_str()).unwrap();

    // A bad command is an error; the shell goes on.
    shell.send_line("cat no-such-topic").unwrap();
    shell.expect("does not exist").unwrap();
    shell.expect(prompt.as_str()).unwrap();
    shell.send_line("frobnicate").unwrap();
    shell.expect("unrecognized subcommand").unwrap();
    shell.expect(prompt.as_str()).unwrap();

    // Another storage, and completion from its topics.
    shell.send_line(format!("use {other}")).unwrap();
    let other_prompt = format!("kafkit {other}> ");
    shell.expect(other_prompt.as_str()).unwrap();
    shell.send("wc elsew").unwrap();
    shell.send("\t").unwrap();
    shell.expect("elsewhere-topic").unwrap();
    shell.send_line("").unwrap();
    shell.expect(other_prompt.as_str()).unwrap();

    shell.send_line("exit").unwrap();
    shell.expect(Eof).unwrap();
    let history = std::fs::read_to_string(d.join("history")).unwrap();
    assert!(history.contains("ls"), "{history}");
    assert!(
        history.contains("cat orders-2026-12 --value-type json"),
        "{history}"
    );
}
