#!/usr/bin/env python3
"""The peers' side of scripts/bench-schemas: confluent-kafka's serializers, and kafi.

Usage: schema_bench_peer.py produce confluent|kafi avro|protobuf BOOTSTRAP REGISTRY TOPIC FILE
       schema_bench_peer.py consume confluent|kafi avro|protobuf BOOTSTRAP REGISTRY TOPIC N
produce writes the values of FILE (JSON lines {"value": {...}}, as kafkit's produce takes
them) with the schema of scripts/bench-schemas (its text in $BENCH_SCHEMA); consume reads N
records from the beginning and decodes them. Prints {"records": n}.
"""
import json, os, sys

op, peer, kind, bootstrap, registry, topic, arg = sys.argv[1:8]
schema_text = os.environ["BENCH_SCHEMA"]


def message_class():
    """The bench's Protobuf message, from the .proto text compiled by grpc_tools (as kafi
    does) — protoc is not on the machine otherwise."""
    import importlib, tempfile
    import grpc_tools.protoc
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "bench_order.proto"), "w") as f:
        f.write(schema_text)
    grpc_tools.protoc.main(["protoc", f"-I{d}", f"--python_out={d}", os.path.join(d, "bench_order.proto")])
    sys.path.insert(0, d)
    return importlib.import_module("bench_order_pb2").Order


def confluent_produce():
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.serialization import MessageField, SerializationContext
    client = SchemaRegistryClient({"url": registry})
    if kind == "avro":
        from confluent_kafka.schema_registry.avro import AvroSerializer
        serialize = AvroSerializer(client, schema_text)
        to_message = lambda v: v
    else:
        from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
        from google.protobuf.json_format import ParseDict
        cls = message_class()
        serialize = ProtobufSerializer(cls, client, {"use.deprecated.format": False})
        to_message = lambda v: ParseDict(v, cls())
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all"})
    ctx = SerializationContext(topic, MessageField.VALUE)
    n = 0
    with open(arg) as f:
        for line in f:
            value = serialize(to_message(json.loads(line)["value"]), ctx)
            while True:
                try:
                    producer.produce(topic, value=value)
                    break
                except BufferError:
                    producer.poll(0.05)
            n += 1
    if producer.flush(120) != 0:
        sys.exit("records were not delivered")
    return n


def confluent_consume(count):
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.serialization import MessageField, SerializationContext
    client = SchemaRegistryClient({"url": registry})
    if kind == "avro":
        from confluent_kafka.schema_registry.avro import AvroDeserializer
        deserialize = AvroDeserializer(client)
    else:
        from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
        deserialize = ProtobufDeserializer(message_class(), {"use.deprecated.format": False})
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    ctx = SerializationContext(topic, MessageField.VALUE)
    n = 0
    while n < count:
        for m in consumer.consume(1000, 1.0):
            if m.error():
                continue
            deserialize(m.value(), ctx)
            n += 1
    consumer.close()
    return n


def kafi_cluster():
    from kafi.kafi import Cluster
    return Cluster({"kafka": {"bootstrap.servers": bootstrap},
                    "schema_registry": {"schema.registry.url": registry},
                    "kafi": {"session.timeout.ms": 6000, "consume.timeout": 30}})


def kafi_produce():
    c = kafi_cluster()
    p = c.producer(topic, value_type=kind, value_schema=schema_text)
    n = 0
    with open(arg) as f:
        for line in f:
            value = json.loads(line)["value"]
            while True:
                try:
                    p.produce(value)
                    break
                except BufferError:
                    # kafi hands the queue-full error on; wait for deliveries as librdkafka's
                    # own examples do.
                    p.producer.poll(0.05)
            n += 1
    p.close()
    return n


def kafi_consume(count):
    c = kafi_cluster()
    return len(c.cat(topic, n=count, value_type=kind))


if op == "produce":
    n = confluent_produce() if peer == "confluent" else kafi_produce()
else:
    n = confluent_consume(int(arg)) if peer == "confluent" else kafi_consume(int(arg))
print(json.dumps({"records": n}))
