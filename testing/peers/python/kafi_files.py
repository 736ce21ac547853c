#!/usr/bin/env python3
"""kafi (and pandas / pyarrow / fastavro) as the independent side of kafkit's file tests.

Usage:
  kafi_files.py to-file ROOT FILE      JSON lines {"key", "value"} on stdin become a topic of
                                       kafi's local storage in ROOT, written by kafi's
                                       topic_to_file to ROOT/files/FILE
  kafi_files.py from-file ROOT FILE    kafi's file_to_topic reads ROOT/files/FILE into a topic;
                                       its values are printed as JSON lines
  kafi_files.py read PATH FORMAT       pandas / pyarrow / fastavro read PATH (arrow, orc, avro,
                                       jsonl, parquet, csv, xlsx); its rows printed as JSON lines
  kafi_files.py write PATH FORMAT      JSON lines (flat objects) on stdin written by pyarrow or
                                       fastavro as PATH (arrow, orc, avro)
"""
import json
import sys
import warnings

warnings.filterwarnings("ignore")


def kafi_local(root):
    from kafi.kafi import Local

    return Local({"local": {"root.dir": root}})


def to_file(root, file):
    local = kafi_local(root)
    topic = "to-" + file.replace(".", "-")
    local.create(topic)
    producer = local.producer(topic)
    n = 0
    for line in sys.stdin:
        if line.strip():
            record = json.loads(line)
            producer.produce(record["value"], key=record.get("key"))
            n += 1
    producer.close()
    local.topic_to_file(topic, local, file)
    print(json.dumps({"records": n}))


def from_file(root, file):
    local = kafi_local(root)
    topic = "from-" + file.replace(".", "-")
    local.create(topic)
    local.file_to_topic(file, local, topic)
    for message in local.cat(topic, n=-1):
        print(json.dumps(message["value"], sort_keys=True, default=str))


def read(path, fmt):
    import pandas as pd

    if fmt == "avro":
        import fastavro

        with open(path, "rb") as f:
            rows = list(fastavro.reader(f))
    else:
        if fmt == "arrow":
            import pyarrow.ipc

            df = pyarrow.ipc.open_file(path).read_all().to_pandas()
        elif fmt == "orc":
            import pyarrow.orc

            df = pyarrow.orc.read_table(path).to_pandas()
        elif fmt == "jsonl":
            df = pd.read_json(path, lines=True)
        elif fmt == "parquet":
            df = pd.read_parquet(path)
        elif fmt == "csv":
            df = pd.read_csv(path)
        elif fmt == "xlsx":
            df = pd.read_excel(path)
        else:
            raise SystemExit(f"unknown format {fmt}")
        rows = json.loads(df.to_json(orient="records"))
    for row in rows:
        print(json.dumps(row, sort_keys=True, default=str))


def write(path, fmt):
    import pyarrow as pa

    rows = [json.loads(line) for line in sys.stdin if line.strip()]
    if fmt == "avro":
        import fastavro

        names = list(rows[0].keys())
        types = {"str": "string", "int": "long", "float": "double", "bool": "boolean"}
        schema = {
            "type": "record",
            "name": "Row",
            "fields": [
                {"name": n, "type": ["null", types[type(rows[0][n]).__name__]]} for n in names
            ],
        }
        with open(path, "wb") as f:
            fastavro.writer(f, fastavro.parse_schema(schema), rows)
        return
    table = pa.Table.from_pylist(rows)
    if fmt == "arrow":
        import pyarrow.ipc

        with pyarrow.ipc.new_file(path, table.schema) as w:
            w.write_table(table)
    elif fmt == "orc":
        import pyarrow.orc

        pyarrow.orc.write_table(table, path)
    else:
        raise SystemExit(f"unknown format {fmt}")


if __name__ == "__main__":
    op = sys.argv[1]
    if op == "to-file":
        to_file(sys.argv[2], sys.argv[3])
    elif op == "from-file":
        from_file(sys.argv[2], sys.argv[3])
    elif op == "read":
        read(sys.argv[2], sys.argv[3])
    elif op == "write":
        write(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
