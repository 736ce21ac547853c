//! Starts a test broker — Tansu, or Apache Kafka with `KAFKIT_TEST_BROKER=kafka` — on a free
//! loopback port, prints its bootstrap address, and stops it when stdin closes (for
//! benchmarks by hand and the `scripts/bench-*` runs on Kafka).
//!
//! ```text
//! KAFKIT_TEST_BROKER=kafka cargo run --release -p kafkit-testkit --example broker
//! ```

use std::io::BufRead;

fn main() {
    let broker = kafkit_testkit::Broker::start();
    println!("{}", broker.bootstrap());
    // Held until stdin closes (or a line is read): the broker stops on drop.
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    drop(broker);
}
