#!/usr/bin/env python3
"""kafi's side of scripts/bench-cat: `cat` a topic, or `cp` it to a local directory.

Usage: kafi_peer.py cat BOOTSTRAP TOPIC N
       kafi_peer.py cp BOOTSTRAP TOPIC N DIR
Prints how many records it read (and wrote).
"""
import json, sys

from kafi.kafi import Cluster, Local

op, bootstrap, topic, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
# kafi gives up when a poll waits more than consume.timeout (5 s) for its first records; its
# consumer-group join on the newer Tansu build takes about half the session timeout (45 s by
# default), so without these settings kafi reads nothing there.
c = Cluster({"kafka": {"bootstrap.servers": bootstrap},
             "kafi": {"session.timeout.ms": 6000, "consume.timeout": 30}})
if op == "cat":
    records = c.cat(topic, n=n)
    print(json.dumps({"read": len(records)}))
else:
    local = Local({"local": {"root.dir": sys.argv[5]}})
    consumed, produced = c.cp(topic, local, "copy", n=n)
    print(json.dumps({"read": consumed, "written": produced}))
