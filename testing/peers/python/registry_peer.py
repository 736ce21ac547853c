"""confluent-kafka's Schema Registry client and serializers against a registry at argv[1].

Reads a JSON job on stdin: {"avro_values": [hex of kafkit-framed Avro values],
"json_values": [hex of kafkit-framed JSON Schema values]}. Runs the registry calls kafkit's
test checks and writes what came back as one JSON object on stdout.
"""
import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

V1 = json.dumps({"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "id", "type": "int"}, {"name": "name", "type": "string"}]})
V2 = json.dumps({"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "id", "type": "int"}, {"name": "name", "type": "string"},
    {"name": "note", "type": ["null", "string"], "default": None}]})
BAD = json.dumps({"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "id", "type": "string"}, {"name": "name", "type": "string"}]})
JSON_SCHEMA = json.dumps({"type": "object", "properties": {
    "id": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}},
    "required": ["id"]})


def error_of(call):
    try:
        call()
    except SchemaRegistryError as e:
        return {"http": e.http_status_code, "code": e.error_code, "message": e.error_message}
    return None


def main():
    url = sys.argv[1]
    job = json.load(sys.stdin)
    client = SchemaRegistryClient({"url": url})
    out = {}
    id1 = client.register_schema("orders-value", Schema(V1, "AVRO"))
    out["id1"] = id1
    out["id1_again"] = client.register_schema("orders-value", Schema(V1, "AVRO"))
    out["id1_schema"] = client.get_schema(id1).schema_str
    out["id2"] = client.register_schema("orders-value", Schema(V2, "AVRO"))
    out["versions"] = client.get_versions("orders-value")
    latest = client.get_latest_version("orders-value")
    out["latest"] = {"version": latest.version, "id": latest.schema_id}
    found = client.lookup_schema("orders-value", Schema(V1, "AVRO"))
    out["lookup_v1"] = {"version": found.version, "id": found.schema_id}
    out["incompatible"] = error_of(lambda: client.register_schema("orders-value", Schema(BAD, "AVRO")))
    out["test_bad"] = client.test_compatibility("orders-value", Schema(BAD, "AVRO"))
    out["test_good"] = client.test_compatibility("orders-value", Schema(V2, "AVRO"))
    out["unknown_subject"] = error_of(lambda: client.get_latest_version("nope"))
    out["unknown_id"] = error_of(lambda: client.get_schema(99999))
    out["invalid_schema"] = error_of(lambda: client.register_schema("x-value", Schema("{oops", "AVRO")))
    out["set_level"] = client.set_compatibility("orders-value", "NONE")
    out["level"] = client.get_compatibility("orders-value")
    out["id_bad_now"] = client.register_schema("orders-value", Schema(BAD, "AVRO"))

    # Serializers: Avro records and JSON Schema documents, framed by confluent-kafka.
    avro_ser = AvroSerializer(client, V2, conf={"auto.register.schemas": True})
    ctx = SerializationContext("payments", MessageField.VALUE)
    out["avro_framed"] = [avro_ser({"id": 7, "name": "seven", "note": "n"}, ctx).hex(),
                          avro_ser({"id": -1, "name": "", "note": None}, ctx).hex()]
    json_ser = JSONSerializer(JSON_SCHEMA, client, conf={"auto.register.schemas": True})
    jctx = SerializationContext("events", MessageField.VALUE)
    out["json_framed"] = [json_ser({"id": 1, "tags": ["a", "b"]}, jctx).hex()]

    # kafkit's framed values, read by confluent-kafka's deserializers.
    avro_de = AvroDeserializer(client)
    out["avro_read"] = [avro_de(bytes.fromhex(h), ctx) for h in job["avro_values"]]
    json_de = JSONDeserializer(None, schema_registry_client=client)
    out["json_read"] = [json_de(bytes.fromhex(h), jctx) for h in job["json_values"]]

    # Deletes.
    out["soft_delete_version"] = client.delete_version("orders-value", 1)
    out["versions_after"] = client.get_versions("orders-value")
    out["soft_delete_subject"] = client.delete_subject("orders-value")
    out["subjects_after"] = sorted(client.get_subjects())
    out["hard_delete_subject"] = client.delete_subject("orders-value", permanent=True)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
