//! Running the kafkit binary in tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// The binary with `--storage storage` ("" = none), run in `dir`.
pub fn kafkit(storage: &str, dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kafkit"));
    c.current_dir(dir)
        .env_remove("KAFKIT_STORAGE")
        .env_remove("KAFKIT_BROKERS");
    if !storage.is_empty() {
        c.args(["--storage", storage]);
    }
    c
}

/// Runs kafkit with `args`, feeding `stdin`.
pub fn run(storage: &str, dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = kafkit(storage, dir);
    command.args(args);
    run_command(command, stdin)
}

/// Runs a prepared kafkit command (extra environment, say), feeding `stdin`.
pub fn run_command(mut command: Command, stdin: Option<&str>) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = stdin.unwrap_or("").to_string();
    let mut pipe = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        let _ = pipe.write_all(input.as_bytes());
    });
    child.wait_with_output().unwrap()
}

/// Runs kafkit, asserts success, returns stdout.
pub fn ok(storage: &str, dir: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let out = run(storage, dir, args, stdin);
    assert!(
        out.status.success(),
        "kafkit {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs kafkit, asserts a failure with a one-line error, returns it.
pub fn err(storage: &str, dir: &Path, args: &[&str]) -> String {
    let out = run(storage, dir, args, None);
    assert!(!out.status.success(), "kafkit {args:?} should fail");
    let e = String::from_utf8(out.stderr).unwrap();
    assert_eq!(e.trim().lines().count(), 1, "a one-line error: {e}");
    e
}

/// JSON lines.
pub fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
