#!/usr/bin/env python3
"""kafi's side of scripts/bench-export: `topic_to_file` of N records of a cluster's topic.

Usage: kafi_export.py BOOTSTRAP TOPIC N DIR FILE
Writes DIR/files/FILE (kafi's local file system layout) and prints {"records": N, "bytes": B}.
"""
import json, sys, warnings

warnings.filterwarnings("ignore")
from kafi.kafi import Cluster, Local

bootstrap, topic, n, root, file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
# As in kafi_peer.py: kafi gives up when its first poll waits longer than consume.timeout, and
# its group join on Tansu takes about half the session timeout.
c = Cluster({"kafka": {"bootstrap.servers": bootstrap},
             "kafi": {"session.timeout.ms": 6000, "consume.timeout": 30}})
written = c.topic_to_file(topic, Local({"local": {"root.dir": root}}), file, n=n)
print(json.dumps({"records": n, "bytes": written}))
