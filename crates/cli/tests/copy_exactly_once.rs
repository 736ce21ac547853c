//! `cp --exactly-once`: a copy between clusters killed mid-run (SIGKILL) and run again with
//! the same group leaves every source record in the target exactly once, read committed.
//! Kafka only: Tansu has no transactions (docs/TESTING.md).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{err, kafkit, ok, run};

/// A copy's setting: a scratch folder, the shared broker, fresh source and target topics.
struct Copy {
    dir: tempfile::TempDir,
    broker: String,
    source: String,
    target: String,
    /// `--into` naming the same cluster.
    into: String,
}

impl Copy {
    /// `None` on Tansu, which has no transactions.
    fn on_kafka(prefix: &str) -> Option<Copy> {
        if !kafkit_testkit::on_kafka() {
            eprintln!("skipped on Tansu: it has no transactions");
            return None;
        }
        let broker = kafkit_testkit::shared_broker();
        Some(Copy {
            dir: tempfile::tempdir().unwrap(),
            source: kafkit_testkit::unique_topic(&format!("{prefix}-src")),
            target: kafkit_testkit::unique_topic(&format!("{prefix}-dst")),
            into: format!("kafka:{broker}"),
            broker,
        })
    }

    /// Creates the source with `partitions` and writes `values` to it, one per record.
    fn fill_source(&self, partitions: i32, values: &[String]) {
        self.cli(
            &["touch", &self.source, "-p", &partitions.to_string()],
            None,
        );
        self.cli(
            &["produce", &self.source, "--lines"],
            Some(&values.join("\n")),
        );
    }

    /// Runs `kafkit -b BROKER ARGS` and returns its output (it must succeed).
    fn cli(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut all = vec!["-b", self.broker.as_str()];
        all.extend_from_slice(args);
        ok("", self.dir.path(), &all, stdin)
    }
}

#[test]
fn a_killed_exactly_once_copy_run_again_leaves_no_duplicates() {
    let Some(t) = Copy::on_kafka("eos") else {
        return;
    };
    let (d, b, source, target, into) = (t.dir.path(), &t.broker, &t.source, &t.target, &t.into);
    let cli = |args: &[&str], stdin: Option<&str>| t.cli(args, stdin);
    let group = kafkit_testkit::unique_topic("eos-cp");
    let first: Vec<String> = (0..30_000).map(|i| format!("v{i:06}")).collect();
    t.fill_source(3, &first);

    // Without a group: refused, saying why.
    let e = err(
        "",
        d,
        &[
            "-b",
            b,
            "cp",
            source,
            target,
            "--into",
            into,
            "--exactly-once",
        ],
    );
    assert!(e.contains("--group"), "{e}");

    // A following copy, killed once it has committed part of the source.
    let mut copy = kafkit("", d);
    copy.args(["-b", b, "cp", source, target, "--into", into])
        .args(["--exactly-once", "--group", &group, "--follow"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = copy.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = committed_count(b, d, target);
        if n > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the copy committed nothing");
        std::thread::sleep(Duration::from_millis(100));
    }
    // More source records while it runs, then the kill.
    let second: Vec<String> = (30_000..40_000).map(|i| format!("v{i:06}")).collect();
    cli(&["produce", source, "--lines"], Some(&second.join("\n")));
    child.kill().unwrap();
    child.wait().unwrap();

    // Run again (not following): it goes on from the group's commits in the target.
    let copy_again = |extra: &[&str]| {
        let mut args = vec![
            "cp",
            &source,
            &target,
            "--into",
            &into,
            "--exactly-once",
            "--group",
            &group,
        ];
        args.extend_from_slice(extra);
        cli(&args, None)
    };
    let out = copy_again(&[]);
    assert!(out.contains("consumed"), "{out}");

    let copied = cli(
        &[
            "-X",
            "isolation.level=read_committed",
            "cat",
            target,
            "--format",
            "%s\\n",
        ],
        None,
    );
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for line in copied.lines() {
        *counts.entry(line.to_string()).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(twice.is_empty(), "copied more than once: {twice:?}");
    assert_eq!(counts.len(), 40_000, "every source record is in the target");
    assert!(first.iter().chain(&second).all(|v| counts.contains_key(v)));

    // Nothing new: running it again copies nothing.
    let again = copy_again(&["--json"]);
    assert!(again.contains("\"produced\":0"), "{again}");
}

/// Records in `topic` read committed (0 while the copy has not created it).
fn committed_count(b: &str, d: &std::path::Path, topic: &str) -> usize {
    let out = run(
        "",
        d,
        &["-b", b, "-X", "isolation.level=read_committed", "wc", topic],
        None,
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// A read_committed read or an exactly-once copy (not following) ends at the source's last
/// stable offset: a transaction left open in the source does not hold it up.
#[test]
fn a_copy_ends_at_the_last_stable_offset_while_a_transaction_is_open() {
    use kafkit::client::{Producer, ProducerConfig, ProducerRecord};
    let Some(t) = Copy::on_kafka("eos-lso") else {
        return;
    };
    let (d, b, source, target, into) = (t.dir.path(), &t.broker, &t.source, &t.target, &t.into);
    let lines: Vec<String> = (0..100).map(|i| format!("c{i:03}")).collect();
    t.fill_source(1, &lines);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = ProducerConfig::new(kafkit::client::ClientConfig::new([b.as_str()]))
        .transactional_id(kafkit_testkit::unique_topic("eos-lso-txn"));
    let producer = runtime.block_on(async {
        let p = Producer::connect(config).await.unwrap();
        p.begin_transaction().unwrap();
        for i in 0..10 {
            p.send(ProducerRecord::new(source.clone()).value(format!("open{i}")))
                .await
                .unwrap();
        }
        p.flush().await;
        p
    });

    let started = Instant::now();
    let read = t.cli(
        &[
            "-X",
            "isolation.level=read_committed",
            "cat",
            source,
            "--format",
            "%s\\n",
        ],
        None,
    );
    assert_eq!(
        read.lines().collect::<Vec<_>>(),
        lines,
        "committed records only"
    );
    let group = kafkit_testkit::unique_topic("eos-lso-cp");
    let out = t.cli(
        &[
            "cp",
            source,
            target,
            "--into",
            into,
            "--exactly-once",
            "--group",
            &group,
        ],
        None,
    );
    assert!(out.contains("consumed"), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "the read and the copy waited for the open transaction ({:?})",
        started.elapsed()
    );
    assert_eq!(committed_count(b, d, target), 100);
    runtime.block_on(producer.abort_transaction()).unwrap();
}
