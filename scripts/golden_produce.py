"""Writes the golden records with librdkafka (confluent-kafka) to TOPIC on BOOTSTRAP.

Usage: python3 scripts/golden_produce.py BOOTSTRAP TOPIC CODEC
Records: 5 per codec, partition 0, keys k0..k4 (k2 null), values v0.. (v3 null, v4 empty),
headers [("h", "1"), ("h", "2")] on each, timestamps 1700000000000 + i.
"""
import sys

from confluent_kafka import Producer

bootstrap, topic, codec = sys.argv[1:4]
p = Producer({
    "bootstrap.servers": bootstrap,
    "compression.codec": codec,
    "linger.ms": 200,
    "enable.idempotence": False,
    "api.version.request": True,
})
for i in range(5):
    key = None if i == 2 else f"k{i}".encode()
    value = None if i == 3 else (b"" if i == 4 else (f"v{i}-" * (i + 1)).encode())
    p.produce(topic, key=key, value=value, partition=0,
              headers=[("h", b"1"), ("h", b"2")], timestamp=1700000000000 + i)
left = p.flush(10)
sys.exit(1 if left else 0)
