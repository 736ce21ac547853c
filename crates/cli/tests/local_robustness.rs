//! What local storage already handles well, kept so: a `produce` killed with SIGKILL, two
//! processes writing one topic at once, 20 MB values, and a full disk.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{kafkit, lines, ok, run};

/// Every record's (partition, offset) in `topic`, each once.
fn offsets(dir: &std::path::Path, topic: &str) -> Vec<(i64, i64)> {
    let mut all: Vec<(i64, i64)> = lines(&ok("", dir, &["cat", topic], None))
        .iter()
        .map(|r| {
            (
                r["partition"].as_i64().unwrap(),
                r["offset"].as_i64().unwrap(),
            )
        })
        .collect();
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!(all.len(), before, "no offset twice");
    all
}

#[test]
fn a_produce_killed_mid_way_leaves_a_readable_topic_that_takes_more_records() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok("", d, &["touch", "t"], None);
    let mut child = kafkit("", d)
        .args(["produce", "t", "--lines"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // Lines keep coming; once some are written, the process is killed mid-stream.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut i = 0;
    loop {
        writeln!(input, "line {i} {}", "x".repeat(200)).unwrap();
        i += 1;
        if i % 500 == 0 && ok("", d, &["wc", "t"], None).trim() != "0" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "nothing was written while lines kept coming"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(input);
    let before = offsets(d, "t");
    assert!(!before.is_empty());
    // Whatever was acknowledged is readable, and the next record goes after it. A batch the
    // killed process wrote whole but had not yet indexed (nor acknowledged) is recovered by
    // the next writer, as a Kafka broker recovers its log after a crash: it may show up
    // between the two, in order, never twice.
    ok("", d, &["produce", "t", "--lines"], Some("after"));
    let after = offsets(d, "t");
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "every acknowledged record stays where it was"
    );
    assert!(
        after.len() > before.len() && after.len() <= i + 1,
        "{} of {i}",
        after.len()
    );
    let records = lines(&ok("", d, &["cat", "t"], None));
    let values: Vec<&str> = records
        .iter()
        .map(|r| r["value"].as_str().unwrap())
        .collect();
    assert_eq!(*values.last().unwrap(), "after");
    for (n, v) in values[..values.len() - 1].iter().enumerate() {
        assert!(v.starts_with(&format!("line {n} ")), "record {n}: {v}");
    }
}

#[test]
fn two_processes_writing_one_topic_lose_nothing_and_share_no_offset() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok("", d, &["touch", "t", "-p", "2"], None);
    let input = |tag: &str| -> String {
        (0..2000)
            .map(|i| format!(r#"{{"key":"{tag}{i}","value":"v"}}"#))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (a, b) = (input("a"), input("b"));
    let writers: Vec<_> = [a, b]
        .into_iter()
        .map(|text| {
            let d = d.to_path_buf();
            std::thread::spawn(move || run("", &d, &["produce", "t"], Some(&text)))
        })
        .collect();
    for w in writers {
        let out = w.join().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(offsets(d, "t").len(), 4000, "every record of both, once");
}

#[test]
fn a_20_mb_value_goes_in_and_comes_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok("", d, &["touch", "big"], None);
    let value = "v".repeat(20 << 20);
    let line = format!(r#"{{"key":"k","value":"{value}"}}"#);
    ok("", d, &["produce", "big"], Some(&line));
    let back = lines(&ok("", d, &["cat", "big"], None));
    assert_eq!(back.len(), 1);
    assert_eq!(back[0]["value"].as_str().map(str::len), Some(20 << 20));
}

#[test]
fn a_full_disk_is_a_clear_error_and_what_was_written_stays_readable() {
    // A 2 MiB tmpfs stands for a full disk (root is needed to mount it; skipped otherwise).
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(d)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a small tmpfs here");
        return;
    }
    let result = std::panic::catch_unwind(|| {
        ok("", d, &["touch", "t"], None);
        ok("", d, &["produce", "t", "--lines"], Some("first"));
        let big: String = (0..40)
            .map(|i| format!("{i} {}", "x".repeat(100_000)))
            .collect::<Vec<_>>()
            .join("\n");
        let out = run("", d, &["produce", "t", "--lines"], Some(&big));
        assert_eq!(out.status.code(), Some(2), "a full disk is an error");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains("No space left") || e.contains("space"), "{e}");
        // What was acknowledged before is still there, in order.
        let got = offsets(d, "t");
        assert!(!got.is_empty() && got[0] == (0, 0), "{got:?}");
    });
    let _ = std::process::Command::new("umount").arg(d).status();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
