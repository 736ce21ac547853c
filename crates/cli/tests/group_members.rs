//! `--group` makes a read a real member of the consumer group: processes in one group split
//! the partitions (kafkit with kafkit, kafkit with librdkafka), none is read twice, and a
//! member that leaves hands its partitions over from its commits, losing nothing.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{kafkit, ok};
use serde_json::Value;

const PARTITIONS: i32 = 6;

/// A reading process whose stdout lines are collected as `(partition, offset)` pairs.
struct Reader {
    name: &'static str,
    child: Child,
    read: Arc<Mutex<Vec<(i64, i64)>>>,
    /// Its stderr, for failure messages.
    errors: Arc<Mutex<String>>,
}

impl Reader {
    fn start(name: &'static str, mut command: Command) -> Reader {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let read: Arc<Mutex<Vec<(i64, i64)>>> = Arc::default();
        let errors: Arc<Mutex<String>> = Arc::default();
        let (lines, out) = (read.clone(), child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line).expect("a JSON line");
                let at = (
                    v["partition"].as_i64().unwrap(),
                    v["offset"].as_i64().unwrap(),
                );
                lines.lock().unwrap().push(at);
            }
        });
        let (text, err) = (errors.clone(), child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut t = text.lock().unwrap();
                t.push_str(&line);
                t.push('\n');
            }
        });
        Reader {
            name,
            child,
            read,
            errors,
        }
    }

    /// `kafkit cat TOPIC --follow --group GROUP` on the broker.
    fn kafkit(name: &'static str, dir: &std::path::Path, topic: &str, group: &str) -> Reader {
        let mut c = kafkit("", dir);
        c.env("KAFKIT_LOG", "kafkit_store=info")
            .args(["-b", &kafkit_testkit::shared_broker()])
            .args(["cat", topic, "--follow", "--group", group]);
        Reader::start(name, c)
    }

    /// The partitions of its latest assignment, from its log (`partitions=[0, 1]`).
    fn assignment(&self) -> Option<BTreeSet<i32>> {
        let errors = self.errors.lock().unwrap();
        let line = errors.lines().rev().find(|l| l.contains("partitions=["))?;
        let list = line.split("partitions=[").nth(1)?.split(']').next()?;
        Some(
            list.split(',')
                .filter_map(|p| p.trim().parse().ok())
                .collect(),
        )
    }

    fn read(&self) -> Vec<(i64, i64)> {
        self.read.lock().unwrap().clone()
    }

    /// Ends the process as a person would: Ctrl-C for kafkit, closing stdin for the
    /// librdkafka peer; both then commit and leave. Fails the test if it did not end well.
    fn stop(mut self) {
        if self.name.starts_with("kafkit") {
            let pid = self.child.id().to_string();
            let _ = Command::new("kill").args(["-INT", &pid]).status();
        }
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("{} did not stop within 30 s", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // kafkit ends a read cut short by Ctrl-C with success.
        assert!(
            status.success(),
            "{} ended with {status}: {}",
            self.name,
            self.errors.lock().unwrap()
        );
    }
}

/// Each reader's name and stderr, for failure messages.
fn logs(readers: &[&Reader]) -> Vec<String> {
    readers
        .iter()
        .map(|r| format!("{}: {}", r.name, r.errors.lock().unwrap()))
        .collect()
}

/// Waits until the readers' latest assignments (from their logs) split every partition
/// between them, each holding some.
fn until_split(readers: &[&Reader]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let held: Vec<Option<BTreeSet<i32>>> = readers.iter().map(|r| r.assignment()).collect();
        let all: Vec<i32> = held.iter().flatten().flatten().copied().collect();
        let unique: BTreeSet<i32> = all.iter().copied().collect();
        if held
            .iter()
            .all(|h| h.as_ref().is_some_and(|p| !p.is_empty()))
            && all.len() == unique.len()
            && unique.len() == PARTITIONS as usize
        {
            return;
        }
        if Instant::now() > deadline {
            let errors = logs(readers);
            panic!("the readers never split {PARTITIONS} partitions: {held:?}; {errors:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Writes `per_partition` records to each partition, each record its own batch (Tansu
/// fetches nothing from an offset inside a batch; docs/TESTING.md).
fn fill(dir: &std::path::Path, topic: &str, per_partition: i32) {
    let lines: Vec<String> = (0..PARTITIONS * per_partition)
        .map(|i| format!(r#"{{"value":"v{i}","partition":{}}}"#, i % PARTITIONS))
        .collect();
    let b = kafkit_testkit::shared_broker();
    ok(
        "",
        dir,
        &["-b", &b, "produce", topic, "-X", "batch.size=1"],
        Some(&lines.join("\n")),
    );
}

/// Waits until the readers together read `n` records.
fn until_read(n: usize, readers: &[&Reader]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got: usize = readers.iter().map(|r| r.read().len()).sum();
        if got >= n {
            return;
        }
        if Instant::now() > deadline {
            let errors = logs(readers);
            panic!("only {got} of {n} records read; {errors:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Asserts that `reads` hold every offset below `per_partition` of every partition exactly
/// once, and that no partition was read by two of them.
fn exactly_once(reads: &[(&str, Vec<(i64, i64)>)], per_partition: i64) {
    let mut seen: BTreeMap<(i64, i64), &str> = BTreeMap::new();
    for (name, read) in reads {
        for at in read {
            if let Some(other) = seen.insert(*at, name) {
                panic!("{at:?} read twice (by {other} and {name})");
            }
        }
    }
    let expected: BTreeSet<(i64, i64)> = (0..PARTITIONS as i64)
        .flat_map(|p| (0..per_partition).map(move |o| (p, o)))
        .collect();
    let got: BTreeSet<(i64, i64)> = seen.keys().copied().collect();
    assert_eq!(got, expected, "every record read once");
}

/// Kafka's DescribeGroups names each member's client, host and assignment (Tansu leaves
/// them out): `describe-groups` shows the split the readers logged.
fn described_as_split(dir: &std::path::Path, topic: &str, group: &str, readers: &[&Reader]) {
    let b = kafkit_testkit::shared_broker();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let described: Value = serde_json::from_str(&ok(
            "",
            dir,
            &["-b", &b, "describe-groups", group, "--json"],
            None,
        ))
        .unwrap();
        let members = described["members"].as_array().cloned().unwrap_or_default();
        let mut shown: Vec<BTreeSet<i32>> = members
            .iter()
            .map(|m| {
                m["assigned"][topic]
                    .as_array()
                    .map(|ps| ps.iter().map(|p| p.as_i64().unwrap() as i32).collect())
                    .unwrap_or_default()
            })
            .collect();
        shown.sort();
        let mut logged: Vec<BTreeSet<i32>> = readers
            .iter()
            .map(|r| r.assignment().unwrap_or_default())
            .collect();
        logged.sort();
        if shown == logged {
            for m in &members {
                assert_eq!(m["client_id"], "kafkit", "{described}");
                assert!(
                    m["host"].as_str().is_some_and(|h| h.contains("127.0.0.1")),
                    "{described}"
                );
                assert!(
                    m["member_id"].as_str().is_some_and(|id| !id.is_empty()),
                    "{described}"
                );
            }
            let text = ok("", dir, &["-b", &b, "describe-groups", group], None);
            assert!(text.contains("2 members"), "{text}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "describe-groups shows {shown:?}, the readers logged {logged:?}: {described}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn topic(dir: &std::path::Path, prefix: &str) -> String {
    let topic = kafkit_testkit::unique_topic(prefix);
    let b = kafkit_testkit::shared_broker();
    ok(
        "",
        dir,
        &["-b", &b, "touch", &topic, "-p", &PARTITIONS.to_string()],
        None,
    );
    topic
}

#[test]
fn two_kafkit_readers_split_a_group_and_one_leaving_hands_over_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let topic = topic(d, "cli-members");
    let group = kafkit_testkit::unique_topic("cli-members");
    let a = Reader::kafkit("kafkit a", d, &topic, &group);
    let b = Reader::kafkit("kafkit b", d, &topic, &group);
    until_split(&[&a, &b]);
    if kafkit_testkit::on_kafka() {
        described_as_split(d, &topic, &group, &[&a, &b]);
    }

    fill(d, &topic, 10);
    until_read(60, &[&a, &b]);
    let (read_a, read_b) = (a.read(), b.read());
    assert!(!read_a.is_empty() && !read_b.is_empty(), "both read");
    let parts = |r: &[(i64, i64)]| r.iter().map(|(p, _)| *p).collect::<BTreeSet<_>>();
    assert!(
        parts(&read_a).is_disjoint(&parts(&read_b)),
        "a {:?}, b {:?}",
        parts(&read_a),
        parts(&read_b)
    );
    exactly_once(&[("a", read_a), ("b", read_b.clone())], 10);

    // a leaves (commits what it printed, then leaves): b takes over its partitions from
    // a's commits and reads only what comes next.
    a.stop();
    until_split(&[&b]);
    fill(d, &topic, 10);
    until_read(read_b.len() + 60, &[&b]);
    let after: Vec<(i64, i64)> = b.read()[read_b.len()..].to_vec();
    let prior: Vec<(i64, i64)> = (0..PARTITIONS as i64)
        .flat_map(|p| (0..10).map(move |o| (p, o)))
        .collect();
    exactly_once(&[("first round", prior), ("b after a left", after)], 20);
    b.stop();

    // What was printed was committed: nothing is left for the group.
    let lags: Value = serde_json::from_str(&ok(
        "",
        d,
        &[
            "-b",
            &kafkit_testkit::shared_broker(),
            "lags",
            &group,
            "--json",
        ],
        None,
    ))
    .unwrap();
    let total: i64 = lags["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["lag"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 0, "{lags}");
}

/// A librdkafka consumer (confluent-kafka) printing what it reads as JSON lines until its
/// stdin closes; then it closes (committing and leaving the group).
const PEER: &str = r#"
import json, sys, threading
from confluent_kafka import Consumer
bootstrap, topic, group = sys.argv[1:4]
c = Consumer({
    "bootstrap.servers": bootstrap, "group.id": group,
    "partition.assignment.strategy": "range",
    "auto.offset.reset": "earliest", "enable.auto.commit": True,
})
def assigned(consumer, partitions):
    held = ", ".join(str(tp.partition) for tp in partitions)
    print(f"assigned partitions=[{held}]", file=sys.stderr, flush=True)
c.subscribe([topic], on_assign=assigned)
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
while not stop.is_set():
    m = c.poll(0.1)
    if m is not None and m.error() is None:
        print(json.dumps({"partition": m.partition(), "offset": m.offset()}), flush=True)
c.close()
"#;

#[test]
fn a_kafkit_reader_and_a_librdkafka_consumer_split_a_group() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let topic = topic(d, "cli-rdkafka");
    let group = kafkit_testkit::unique_topic("cli-rdkafka");
    let python = std::env::var("KAFKIT_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut peer = Command::new(&python);
    peer.args(["-c", PEER, &kafkit_testkit::shared_broker(), &topic, &group]);
    let peer = Reader::start("librdkafka", peer);
    let ours = Reader::kafkit("kafkit", d, &topic, &group);
    until_split(&[&ours, &peer]);

    fill(d, &topic, 10);
    until_read(60, &[&ours, &peer]);
    let (mine, theirs) = (ours.read(), peer.read());
    assert!(!mine.is_empty() && !theirs.is_empty(), "both read");
    exactly_once(&[("kafkit", mine), ("librdkafka", theirs)], 10);
    ours.stop();
    peer.stop();
}

#[test]
fn a_group_read_refuses_options_that_choose_partitions_or_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok("", d, &["touch", "t", "-p", "2"], None);
    for extra in [
        &["--partitions", "0"][..],
        &["--offsets", "3"],
        &["--from", "2024-01-01"],
    ] {
        let mut args = vec!["cat", "t", "--group", "g"];
        args.extend_from_slice(extra);
        let e = common::err("", d, &args);
        assert!(
            e.contains(extra[0]) && e.contains("--group"),
            "{extra:?}: {e}"
        );
    }
    let e = common::err("", d, &["tail", "t", "--group", "g"]);
    assert!(e.contains("tail") && e.contains("--group"), "{e}");
}
