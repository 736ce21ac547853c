"""fastavro, the Avro reference for Python, as a peer for kafkit's Avro JSON encoding.

Reads a JSON document on stdin: {"schema": ..., "json": [lines], "datums": [hex]}.
Writes {"datums": [hex of each JSON line encoded by fastavro],
        "json": [each datum decoded by fastavro, as an Avro JSON encoding line]}.
"""
import io
import json
import sys

import fastavro


def main():
    job = json.load(sys.stdin)
    schema = fastavro.parse_schema(job["schema"])
    datums = []
    for line in job["json"]:
        record = next(fastavro.json_reader(io.StringIO(line), schema))
        out = io.BytesIO()
        fastavro.schemaless_writer(out, schema, record)
        datums.append(out.getvalue().hex())
    lines = []
    for hex_datum in job["datums"]:
        record = fastavro.schemaless_reader(io.BytesIO(bytes.fromhex(hex_datum)), schema, None)
        out = io.StringIO()
        fastavro.json_writer(out, schema, [record])
        lines.append(out.getvalue().strip())
    json.dump({"datums": datums, "json": lines}, sys.stdout)


if __name__ == "__main__":
    main()
