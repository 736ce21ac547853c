//! Writes arbitrary bytes as a local partition's segment (its log and its index), then reads
//! the topic, asks its watermarks and offsets for times, appends to it and reads it again:
//! every damage is an error or a repair, never a panic, and an append after a repair lands
//! past every offset the damaged files had handed out.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use kafkit_store::{LocalStorage, NewRecord, ReadFrom, RecordReader, Storage};
use libfuzzer_sys::fuzz_target;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
}

/// A directory of this process on tmpfs when there is one.
fn root() -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    base.join(format!("kafkit-fuzz-local-{}", std::process::id()))
}

/// Reads every record it can; corrupt batches are stepped over as `--skip-errors` does.
async fn read_all(store: &LocalStorage) -> Vec<i64> {
    let Ok(mut reader) = store.reader("t", None, ReadFrom::Beginning, false).await else {
        return Vec::new();
    };
    let mut offsets = Vec::new();
    for _ in 0..10_000 {
        match reader.next_records().await {
            Ok(Some(records)) => offsets.extend(records.iter().map(|r| r.offset)),
            Ok(None) => break,
            Err(kafkit_store::StoreError::CorruptBatch { .. }) => continue,
            Err(_) => break,
        }
    }
    offsets
}

fuzz_target!(|data: &[u8]| {
    let [a, b, rest @ ..] = data else {
        return;
    };
    let index_len = (usize::from(*a) << 8 | usize::from(*b)).min(rest.len());
    let (index, log) = rest.split_at(index_len);
    let root = root();
    let _ = std::fs::remove_dir_all(&root);
    let partition = root.join("topics/t/0");
    std::fs::create_dir_all(&partition).expect("a scratch directory");
    std::fs::write(root.join("topics/t/topic.json"), r#"{"partitions":1}"#).expect("meta");
    std::fs::write(partition.join("00000000000000000000.log"), log).expect("log");
    std::fs::write(partition.join("00000000000000000000.idx"), index).expect("index");
    runtime().block_on(async {
        let store = LocalStorage::open(&root).expect("the root opens");
        let before = read_all(&store).await;
        let _ = store.watermarks("t").await;
        let _ = store.offsets_for_times("t", 0).await;
        let placed = store
            .append("t", vec![NewRecord::new(Some("k"), Some("v"))])
            .await;
        if let Ok(placed) = placed {
            let (_, offset) = placed[0];
            assert!(
                before.iter().all(|&o| o < offset),
                "appended at {offset}, but {before:?} were there"
            );
            let after = read_all(&store).await;
            assert!(after.contains(&offset), "{after:?} lacks {offset}");
        }
    });
});
