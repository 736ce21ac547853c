//! read_committed: which fetched batches a consumer skips.
//!
//! A Fetch response lists the aborted transactions in its range as (producer id, first
//! offset). Walking batches in offset order, a producer enters the aborted set when the walk
//! reaches its first offset, and leaves it at its ABORT marker (a control batch); while it is
//! in the set its transactional batches are skipped. Control batches are never returned.
//! This is the Java client's algorithm.

use std::collections::{HashSet, VecDeque};

use kafkit_record::{ControlRecord, RecordBatch};

/// The aborted producers seen so far in one partition's fetched range.
#[derive(Debug, Default)]
pub(crate) struct AbortFilter {
    aborted_producers: HashSet<i64>,
}

impl AbortFilter {
    /// Forgets the state (at the end of a fetched range).
    pub(crate) fn clear(&mut self) {
        self.aborted_producers.clear();
    }

    /// True when `batch` holds records the application should see. `aborted` is the
    /// response's aborted transactions not reached yet, ordered by first offset.
    pub(crate) fn keep(
        &mut self,
        batch: &RecordBatch,
        aborted: &mut VecDeque<(i64, i64)>,
        read_committed: bool,
    ) -> bool {
        let h = &batch.header;
        if read_committed {
            while let Some(&(pid, first)) = aborted.front() {
                if first > h.last_offset() {
                    break;
                }
                aborted.pop_front();
                self.aborted_producers.insert(pid);
            }
        }
        if h.is_control {
            if read_committed && is_abort_marker(batch) {
                self.aborted_producers.remove(&h.producer_id);
            }
            return false;
        }
        !(read_committed && h.is_transactional && self.aborted_producers.contains(&h.producer_id))
    }
}

/// True when a control batch holds an ABORT marker.
fn is_abort_marker(batch: &RecordBatch) -> bool {
    batch
        .records()
        .next()
        .and_then(|r| r.ok())
        .and_then(|r| r.key)
        .and_then(|k| ControlRecord::from_key(&k))
        == Some(ControlRecord::Abort)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafkit_record::{BatchBuilder, BatchReader, Compression, DecodeOptions};

    /// A batch at `offset` from producer `pid`: data (transactional or not) or a marker.
    fn batch(offset: i64, pid: i64, kind: &str) -> RecordBatch {
        let mut b = BatchBuilder::new(offset, 0);
        b.producer(pid, 0, 0);
        match kind {
            "data" => {}
            "txn" => b.transactional(true),
            "abort" | "commit" => {
                b.transactional(true);
                b.control(true);
            }
            other => panic!("{other}"),
        }
        let key: &[u8] = match kind {
            "abort" => &[0, 0, 0, 0],
            "commit" => &[0, 0, 0, 1],
            _ => b"k",
        };
        b.push(0, Some(key), Some(&[0, 0, 0, 0, 0, 0]), &[]);
        let bytes = b.finish(Compression::None, None).unwrap();
        BatchReader::new(bytes, DecodeOptions::default())
            .next()
            .unwrap()
            .unwrap()
    }

    #[test]
    fn read_committed_skips_aborted_transactions_and_markers() {
        // Offsets: 0 p1 txn (aborted), 1 p2 txn (committed), 2 p9 plain, 3 p1 ABORT,
        // 4 p2 COMMIT, 5 p1 txn (a new, committed transaction).
        let batches = [
            batch(0, 1, "txn"),
            batch(1, 2, "txn"),
            batch(2, 9, "data"),
            batch(3, 1, "abort"),
            batch(4, 2, "commit"),
            batch(5, 1, "txn"),
        ];
        let mut aborted: VecDeque<(i64, i64)> = [(1, 0)].into();
        let mut f = AbortFilter::default();
        let kept: Vec<i64> = batches
            .iter()
            .filter(|b| f.keep(b, &mut aborted, true))
            .map(|b| b.header.base_offset)
            .collect();
        assert_eq!(kept, vec![1, 2, 5]);

        // read_uncommitted: everything but the markers.
        let mut aborted: VecDeque<(i64, i64)> = [(1, 0)].into();
        let mut f = AbortFilter::default();
        let kept: Vec<i64> = batches
            .iter()
            .filter(|b| f.keep(b, &mut aborted, false))
            .map(|b| b.header.base_offset)
            .collect();
        assert_eq!(kept, vec![0, 1, 2, 5]);
    }
}
