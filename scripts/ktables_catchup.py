"""Peer for scripts/bench-table: ktables catches up a topic; prints one JSON line."""
import asyncio, json, resource, sys, time

from ktables import KafkaTable


def usage():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, r.ru_maxrss


async def main(bootstrap, topic):
    table = KafkaTable(connection=bootstrap, topic=topic, value_decoder=json.loads,
                       catchup_timeout=3600.0, ensure_topic=False)
    cpu0, _ = usage()
    t0 = time.monotonic()
    await table.start()
    wall = time.monotonic() - t0
    cpu1, rss = usage()
    keys = len(table)
    status = table.status
    await table.stop()
    if status != "caught_up":
        sys.exit(f"ktables did not catch up: {status}")
    print(json.dumps({"client": "ktables", "op": "table", "keys": keys, "wall_s": round(wall, 4),
                      "cpu_s": round(cpu1 - cpu0, 4), "max_rss_kib": rss}), flush=True)


asyncio.run(main(sys.argv[1], sys.argv[2]))
