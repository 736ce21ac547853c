//! `cp` run again: refused into a target that holds records (it would hold them twice),
//! `--append` adds anyway, and `--resume` goes on with a copy that was killed without a
//! record twice — a batch written but not indexed when it died counts as copied.

mod common;

use common::{err, ok, run};

#[test]
fn a_killed_backup_resumes_without_duplicates_and_a_second_copy_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let b = kafkit_testkit::shared_broker();
    let topic = kafkit_testkit::unique_topic("cli-resume");
    let broker = |args: &[&str], stdin: Option<&str>| {
        let mut all = vec!["-b", b.as_str()];
        all.extend_from_slice(args);
        ok("", d, &all, stdin)
    };
    broker(&["touch", &topic, "-p", "2"], None);
    let values: Vec<String> = (0..40).map(|i| format!("v{i}")).collect();
    // One produce per record: one batch each (Tansu fetches nothing inside a batch).
    for v in &values {
        broker(&["produce", &topic, "--lines"], Some(v));
    }
    let local = format!("local:{}", d.join("backup").display());
    broker(&["cp", &topic, "copy", "--into", &local], None);

    // The copy was killed: its last batch of partition 0 is in the log but not indexed, and
    // the other partition's last batches never arrived.
    let pdir = d.join("backup/topics/copy/0");
    let idx = pdir.join("00000000000000000000.idx");
    let index = std::fs::read(&idx).unwrap();
    std::fs::write(&idx, &index[..index.len() - 32]).unwrap();
    let p1 = d.join("backup/topics/copy/1");
    let idx1 = p1.join("00000000000000000000.idx");
    let log1 = p1.join("00000000000000000000.log");
    let index1 = std::fs::read(&idx1).unwrap();
    let keep = index1.len() / 32 / 2;
    let cut_at = u64::from_be_bytes(index1[keep * 32 + 16..keep * 32 + 24].try_into().unwrap());
    std::fs::write(&idx1, &index1[..keep * 32]).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log1)
        .unwrap()
        .set_len(cut_at)
        .unwrap();

    // Run again as it was: refused, naming what to do.
    let e = err("", d, &["-b", &b, "cp", &topic, "copy", "--into", &local]);
    assert!(e.contains("already holds") && e.contains("--resume"), "{e}");
    // Resumed: everything once.
    broker(&["cp", &topic, "copy", "--into", &local, "--resume"], None);
    let backup_count = ok(&local, d, &["wc", "copy"], None);
    assert_eq!(backup_count.trim(), "40");
    let diff = run(
        "",
        d,
        &["-b", &b, "diff", &topic, "copy", "--other", &local],
        None,
    );
    assert!(
        diff.status.success(),
        "{}",
        String::from_utf8_lossy(&diff.stdout)
    );
    // Resuming a finished copy copies nothing; --append adds again.
    broker(&["cp", &topic, "copy", "--into", &local, "--resume"], None);
    assert_eq!(ok(&local, d, &["wc", "copy"], None).trim(), "40");
    let e = err(
        "",
        d,
        &[
            "-b", &b, "cp", &topic, "copy2", "--into", &local, "--resume", "--filter", ".",
        ],
    );
    assert!(e.contains("keeps offsets"), "{e}");
    ok(&local, d, &["cp", "copy", "other"], None);
    assert!(err(&local, d, &["cp", "copy", "other"]).contains("already holds 40 records"));
    ok(&local, d, &["cp", "copy", "other", "--append"], None);
    assert_eq!(ok(&local, d, &["wc", "other"], None).trim(), "80");
}
