"""confluent-kafka's producer and consumer with its Avro, Protobuf and JSON Schema serializers,
against a broker and a registry (kafkit's, in kafkit's tests).

Reads a JSON job on stdin:
  {"bootstrap": "host:port", "registry": "http://...", "mode": "produce" | "consume",
   "topics": {"avro": T, "protobuf": T, "json": T}, "count": N (consume: records per topic)}
produce: writes the values below (Avro, Protobuf messages of indexes [1] and [0, 0], JSON
Schema), each schema registered by the serializer; prints {"done": true}.
consume: reads `count` records of each topic from the beginning and prints
{"avro": [values], "protobuf": [values as dicts], "json": [values]}.
"""
import json
import sys

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

AVRO = json.dumps({"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "id", "type": "int"}, {"name": "name", "type": "string"},
    {"name": "note", "type": ["null", "string"], "default": None}]})
JSON_SCHEMA = json.dumps({"title": "Order", "type": "object", "properties": {
    "id": {"type": "integer"}, "name": {"type": "string"}}, "required": ["id"]})

AVRO_VALUES = [{"id": 10, "name": "py-a", "note": None}, {"id": 11, "name": "py-b", "note": "n"}]
JSON_VALUES = [{"id": 20, "name": "py-j"}]
REFUND = {"orderId": "o-9", "cents": "1250"}
LINE = {"sku": "s-1", "qty": 3}


def message_classes():
    """shop.Order (with nested Line) and shop.Refund, built from a descriptor (as kafkit's
    test's order.proto declares them)."""
    f = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="shop_order.proto", package="shop", syntax="proto3")
    order = fdp.message_type.add(name="Order")
    order.field.add(name="id", number=1, type=f.TYPE_INT32, label=f.LABEL_OPTIONAL, json_name="id")
    order.field.add(name="name", number=2, type=f.TYPE_STRING, label=f.LABEL_OPTIONAL, json_name="name")
    order.field.add(name="lines", number=3, type=f.TYPE_MESSAGE, type_name=".shop.Order.Line",
                    label=f.LABEL_REPEATED, json_name="lines")
    line = order.nested_type.add(name="Line")
    line.field.add(name="sku", number=1, type=f.TYPE_STRING, label=f.LABEL_OPTIONAL, json_name="sku")
    line.field.add(name="qty", number=2, type=f.TYPE_INT32, label=f.LABEL_OPTIONAL, json_name="qty")
    refund = fdp.message_type.add(name="Refund")
    refund.field.add(name="order_id", number=1, type=f.TYPE_STRING, label=f.LABEL_OPTIONAL, json_name="orderId")
    refund.field.add(name="cents", number=2, type=f.TYPE_INT64, label=f.LABEL_OPTIONAL, json_name="cents")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    get = lambda name: message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
    return get("shop.Order"), get("shop.Order.Line"), get("shop.Refund")


def produce(job, client):
    order, line, refund = message_classes()
    producer = Producer({"bootstrap.servers": job["bootstrap"]})
    topics = job["topics"]

    def send(topic, serializer, values):
        ctx = SerializationContext(topic, MessageField.VALUE)
        for v in values:
            producer.produce(topic, value=serializer(v, ctx))

    send(topics["avro"], AvroSerializer(client, AVRO), AVRO_VALUES)
    send(topics["json"], JSONSerializer(JSON_SCHEMA, client), JSON_VALUES)
    conf = {"use.deprecated.format": False}
    send(topics["protobuf"], ProtobufSerializer(refund, client, conf),
         [json_format.ParseDict(REFUND, refund())])
    send(topics["protobuf"], ProtobufSerializer(line, client, conf),
         [json_format.ParseDict(LINE, line())])
    if producer.flush(30) != 0:
        raise SystemExit("records were not delivered")
    print(json.dumps({"done": True}))


def consume(job, client):
    order, _, _ = message_classes()
    out = {}
    deserializers = {
        "avro": AvroDeserializer(client),
        "protobuf": ProtobufDeserializer(order, {"use.deprecated.format": False}),
        "json": JSONDeserializer(None, schema_registry_client=client),
    }
    for kind, topic in job["topics"].items():
        consumer = Consumer({"bootstrap.servers": job["bootstrap"], "group.id": f"py-{topic}",
                             "auto.offset.reset": "earliest", "enable.auto.commit": False})
        consumer.subscribe([topic])
        values = []
        deserialize = deserializers[kind]
        ctx = SerializationContext(topic, MessageField.VALUE)
        for _ in range(600):
            if len(values) >= job["count"]:
                break
            m = consumer.poll(0.1)
            if m is None or m.error():
                continue
            v = deserialize(m.value(), ctx)
            if kind == "protobuf":
                v = json_format.MessageToDict(v)
            values.append(v)
        consumer.close()
        out[kind] = values
    print(json.dumps(out))


def main():
    job = json.load(sys.stdin)
    client = SchemaRegistryClient({"url": job["registry"]})
    {"produce": produce, "consume": consume}[job["mode"]](job, client)


if __name__ == "__main__":
    main()
