//! Encodes 1 MB batches of 100-byte records with each codec and prints the speed.
//! Run: `cargo run --release -p kafkit-record --example codec_speed`.
use kafkit_record::{BatchBuilder, Compression};
use std::time::Instant;

fn main() {
    let value = vec![b'x'; 100];
    {
        let mut b = BatchBuilder::with_capacity(0, 0, 1 << 20);
        for _ in 0..9000 {
            b.push(0, None, Some(&value), &[]);
        }
        let raw = b.finish(Compression::None, None).unwrap();
        let t = Instant::now();
        for _ in 0..100 {
            for chunk in raw.chunks(64 * 1024) {
                std::hint::black_box(lz4_flex::block::compress(chunk));
            }
        }
        println!(
            "lz4 block: {:.0} MB/s",
            raw.len() as f64 * 100.0 / t.elapsed().as_secs_f64() / 1e6
        );
    }
    for codec in [
        Compression::None,
        Compression::Lz4,
        Compression::Snappy,
        Compression::Zstd,
        Compression::Gzip,
    ] {
        let t = Instant::now();
        let mut bytes = 0usize;
        let rounds = 100;
        for _ in 0..rounds {
            let mut b = BatchBuilder::with_capacity(0, 0, 1 << 20);
            for _ in 0..9000 {
                b.push(0, None, Some(&value), &[]);
            }
            bytes += b.size();
            std::hint::black_box(b.finish(codec, None).unwrap());
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "{:>6}: {:7.0} MB/s, {:.1} ns/record",
            codec.name(),
            bytes as f64 / s / 1e6,
            s * 1e9 / (rounds * 9000) as f64
        );
    }
}

#[allow(dead_code)]
fn block_speed() {}
