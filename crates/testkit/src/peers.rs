//! Peer clients for interop tests: the Java client (`testing/peers/java/Peer.java` over
//! Kafka's `kafka-clients` jar), compiled with `javac` on first use, and franz-go
//! (`testing/peers/go`, modules from the Go module proxy), built with `go build` on first
//! use — each into a cache folder outside the repo, named by a hash of its source so an edit
//! rebuilds it.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::kafka::kafka_libs;

const JAVA_PEER: &str = include_str!("../../../testing/peers/java/Peer.java");
const GO_PEER: [&str; 4] = [
    include_str!("../../../testing/peers/go/main.go"),
    include_str!("../../../testing/peers/go/perf.go"),
    include_str!("../../../testing/peers/go/go.mod"),
    include_str!("../../../testing/peers/go/go.sum"),
];

/// FNV-1a of `texts`, naming a peer's cache folder.
fn hash_of(texts: &[&str]) -> u64 {
    texts
        .iter()
        .flat_map(|t| t.bytes())
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        })
}

/// `~/.cache/kafkit/peers/NAME`.
fn cache_dir(name: &str) -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".cache/kafkit/peers").join(name)
}

/// A command running the franz-go peer; add its arguments (see `testing/peers/go/main.go`).
/// Panics, saying why, when it cannot be built.
pub fn go_peer() -> Command {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    let binary = BINARY.get_or_init(|| {
        let dir = cache_dir(&format!("franz-{:016x}", hash_of(&GO_PEER)));
        let binary = dir.join("franz");
        if binary.exists() {
            return binary;
        }
        std::fs::create_dir_all(&dir).expect("the peer cache folder can be created");
        let source =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testing/peers/go");
        let partial = dir.join(format!("franz.partial-{}", std::process::id()));
        let out = Command::new("go")
            .arg("build")
            .arg("-o")
            .arg(&partial)
            .arg(".")
            .current_dir(&source)
            .output()
            .expect("go runs (Go is needed for the franz-go peer)");
        assert!(
            out.status.success(),
            "building the franz-go peer failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::rename(&partial, &binary).expect("the built peer can be moved in place");
        binary
    });
    Command::new(binary)
}

/// A command running the Java peer (`java -cp ... Peer`); add its arguments (see
/// `testing/peers/java/Peer.java`). Panics, saying why, when it cannot be compiled.
pub fn java_peer() -> Command {
    let classes = java_classes();
    let libs = kafka_libs();
    let mut c = Command::new("java");
    c.arg("-Xmx256m")
        .arg("-cp")
        .arg(format!("{}:{}/*", classes.display(), libs.display()));
    c.arg("Peer");
    c
}

/// The compiled peer's folder, compiling it once per source version.
fn java_classes() -> PathBuf {
    static CLASSES: OnceLock<PathBuf> = OnceLock::new();
    CLASSES
        .get_or_init(|| {
            let dir = cache_dir(&format!("java-{:016x}", hash_of(&[JAVA_PEER])));
            if dir.join("Peer.class").exists() {
                return dir;
            }
            let work = dir.with_extension(format!("partial-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&work);
            std::fs::create_dir_all(&work).expect("the peer cache folder can be created");
            let source = work.join("Peer.java");
            std::fs::write(&source, JAVA_PEER).expect("the peer source can be written");
            let out = Command::new("javac")
                .arg("-cp")
                .arg(format!("{}/*", kafka_libs().display()))
                .arg("-d")
                .arg(&work)
                .arg(&source)
                .output()
                .expect("javac runs (Java 17 is needed for the Java peer)");
            assert!(
                out.status.success(),
                "compiling the Java peer failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            // Another test binary may have finished first: either copy will do.
            if std::fs::rename(&work, &dir).is_err() {
                let _ = std::fs::remove_dir_all(&work);
            }
            dir
        })
        .clone()
}

/// A command running the Python peer script `testing/peers/python/SCRIPT` with
/// `$KAFKIT_PYTHON` (default `python3`); add its arguments.
pub fn python_peer(script: &str) -> Command {
    let python = std::env::var("KAFKIT_PYTHON").unwrap_or_else(|_| "python3".into());
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testing/peers/python")
        .join(script);
    let mut command = Command::new(python);
    command.arg(path);
    command
}

/// Runs a peer `command` with `input` on its standard input and returns its standard output.
/// Panics with its standard error when it fails (scripts/test installs the peers).
pub fn run_peer(mut command: Command, input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("the peer {command:?} starts: {e}"));
    child
        .stdin
        .take()
        .expect("stdin was piped")
        .write_all(input)
        .expect("the peer reads its input");
    let out = child.wait_with_output().expect("the peer ends");
    assert!(
        out.status.success(),
        "the peer {command:?} failed (scripts/test installs the peers):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
