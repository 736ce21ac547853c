//! Backups on object stores: a cluster's topic copied to S3 (moto_server) byte for byte and
//! restored record by record, a backup killed mid-copy resumed without a record twice, and
//! the `s3:` and `azure:` shorthands with credentials from the environment.

mod common;

use std::time::{Duration, Instant};

use common::{kafkit, lines, object_storage_config, ok, run, run_command};
use kafkit_testkit::{ObjectServer, ObjectServerKind};
use serde_json::Value;

/// The records of `topic` on `storage` without their topic names, by partition and offset.
fn read(storage: &str, d: &std::path::Path, topic: &str) -> Vec<Value> {
    let mut v: Vec<Value> = lines(&ok(storage, d, &["cat", topic], None))
        .into_iter()
        .map(|mut r| {
            r.as_object_mut().unwrap().remove("topic");
            r
        })
        .collect();
    v.sort_by_key(|r| (r["partition"].as_i64(), r["offset"].as_i64()));
    v
}

#[test]
fn a_cluster_backup_on_s3_restores_every_record_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let kafka = format!("kafka:{}", kafkit_testkit::shared_broker());
    let topic = kafkit_testkit::unique_topic("s3-backup");
    let s3 = object_storage_config(d, ObjectServerKind::S3, &topic);
    ok(&kafka, d, &["touch", &topic, "--partitions", "3"], None);
    let input: String = (0..300)
        .map(|i| {
            format!(
                "{{\"key\":\"k{}\",\"value\":\"v{i}\",\"headers\":[[\"n\",\"{i}\"],[\"n\",null]],\"timestamp\":{}}}\n",
                i % 17,
                1_700_000_000_000i64 + i
            )
        })
        .collect();
    // Several produces: several batches per partition.
    for chunk in input.lines().collect::<Vec<_>>().chunks(50) {
        ok(&kafka, d, &["produce", &topic], Some(&chunk.join("\n")));
    }
    let group = format!("{topic}-readers");
    ok(
        &kafka,
        d,
        &[
            "reset-offsets",
            &group,
            "--topic",
            &topic,
            "--to-latest",
            "--execute",
        ],
        None,
    );
    let copied: Value = serde_json::from_str(&ok(
        &kafka,
        d,
        &["cp", &topic, "saved", "--into", &s3, "--groups", "--json"],
        None,
    ))
    .unwrap();
    assert_eq!(copied["consumed"], 300);
    assert!(
        copied["batches"].as_u64().unwrap() >= 6,
        "byte for byte: {copied}"
    );
    assert_eq!(copied["groups"], serde_json::json!([group]));
    let original = read(&kafka, d, &topic);
    assert_eq!(original.len(), 300);
    assert_eq!(
        read(&s3, d, "saved"),
        original,
        "backup == cluster, record by record"
    );
    // The group's commits came along unchanged (the backup keeps the cluster's offsets).
    let lags = |storage: &str| -> Value {
        serde_json::from_str(&ok(storage, d, &["lags", &group, "--json"], None)).unwrap()
    };
    let committed = |v: Value| -> Vec<(i64, i64)> {
        v["offsets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["partition"].as_i64().unwrap(),
                    o["committed"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(committed(lags(&s3)), committed(lags(&kafka)));
    let restored = format!("{topic}-restored");
    ok(&s3, d, &["cp", "saved", &restored, "--into", &kafka], None);
    assert_eq!(
        read(&kafka, d, &restored),
        original,
        "restore == original, record by record"
    );
}

#[test]
fn a_killed_backup_to_s3_resumes_without_a_record_twice() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let b = kafkit_testkit::shared_broker();
    let kafka = format!("kafka:{b}");
    let topic = kafkit_testkit::unique_topic("s3-resume");
    let s3 = object_storage_config(d, ObjectServerKind::S3, &topic);
    ok(&kafka, d, &["touch", &topic, "--partitions", "2"], None);
    let batch = |from: usize| -> String {
        (from..from + 100)
            .map(|i| format!("{{\"key\":\"k{i}\",\"value\":\"v{i}\"}}\n"))
            .collect()
    };
    ok(&kafka, d, &["produce", &topic], Some(&batch(0)));
    // A following backup, killed (SIGKILL) once it has copied what is there.
    let mut copy = kafkit(&kafka, d);
    copy.args(["cp", &topic, "saved", "--into", &s3, "--follow"]);
    let mut child = copy
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let count = run(&s3, d, &["wc", "saved"], None);
        if String::from_utf8_lossy(&count.stdout).trim() == "100" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the backup did not copy 100 records in 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    ok(&kafka, d, &["produce", &topic], Some(&batch(100)));
    // Run again as it was: refused, naming what to do; resumed: everything once.
    let again = run(&kafka, d, &["cp", &topic, "saved", "--into", &s3], None);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));
    ok(
        &kafka,
        d,
        &["cp", &topic, "saved", "--into", &s3, "--resume"],
        None,
    );
    assert_eq!(ok(&s3, d, &["wc", "saved"], None).trim(), "200");
    assert_eq!(read(&s3, d, "saved"), read(&kafka, d, &topic));
}

#[test]
fn the_s3_and_azure_shorthands_take_credentials_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let prefix = kafkit_testkit::unique_topic("env");
    let s3 = ObjectServer::shared(ObjectServerKind::S3);
    s3.create_container("kafkit-env");
    let azure = ObjectServer::shared(ObjectServerKind::Azure);
    azure.create_container("kafkit-env");
    let with_env = |storage: &str, args: &[&str], stdin: Option<&str>| {
        let mut c = kafkit(storage, d);
        c.args(args)
            .env("AWS_ACCESS_KEY_ID", kafkit_testkit::MOTO_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", kafkit_testkit::MOTO_SECRET_KEY)
            .env("AWS_ENDPOINT_URL", s3.endpoint())
            .env("AZURE_STORAGE_CONNECTION_STRING", azure.connection_string());
        let out = run_command(c, stdin);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    for storage in [
        format!("s3:kafkit-env/{prefix}"),
        format!("azure:kafkit-env/{prefix}"),
    ] {
        with_env(&storage, &["touch", "t", "-p", "2"], None);
        with_env(
            &storage,
            &["produce", "t"],
            Some("{\"key\":\"a\",\"value\":\"1\"}\n"),
        );
        let listed: Value =
            serde_json::from_str(&with_env(&storage, &["ls", "--json"], None)).unwrap();
        assert_eq!(listed[0]["name"], "t", "{storage}: {listed}");
        assert_eq!(listed[0]["records"], 1, "{storage}: {listed}");
        assert_eq!(with_env(&storage, &["wc", "t"], None).trim(), "1");
    }
    // A bucket that does not exist: one line naming it, exit 2.
    let mut c = kafkit("s3:no-such-bucket/x", d);
    c.args(["ls"])
        .env("AWS_ACCESS_KEY_ID", kafkit_testkit::MOTO_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", kafkit_testkit::MOTO_SECRET_KEY)
        .env("AWS_ENDPOINT_URL", s3.endpoint());
    let out = run_command(c, None);
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(
        e.contains("s3:no-such-bucket") && e.contains("NoSuchBucket"),
        "{e}"
    );
}
