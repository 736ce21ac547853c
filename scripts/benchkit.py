"""What scripts/bench-produce and scripts/bench-consume share: the brokers, the clients and
how a run is measured.

Brokers come from the test kit's `broker` example (Tansu with memory storage, or Apache
Kafka in KRaft mode from scripts/install-kafka). Clients: kafkit (`kafkit perf`),
librdkafka (../shared/bench/rdkafka-perf), the Java client (ProducerPerformance and
ConsumerPerformance from kafka-tools) and franz-go (testing/peers/go, `perf-produce` and
`perf-consume`).

Every client is timed the same way: records/s as the client itself reports it (its own
window, without process start), and CPU per record from the whole process (wait4), less the
same client's CPU for a run of BASELINE records — so the JVM's start and the like do not
count, and all four are measured alike. The broker's CPU is its process tree's, over the
run.
"""
import json, os, re, subprocess, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_DIR = os.path.join(REPO, "..", "shared", "bench")
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "kafkit", "bench")
CLIENTS = ["kafkit", "librdkafka", "java", "franz-go"]
BASELINE = 1000


class Tools:
    """Builds (or finds) every client once."""

    def __init__(self):
        self.kafka_libs = subprocess.run(["bash", "scripts/install-kafka"], cwd=REPO, check=True,
                                         capture_output=True, text=True).stdout.strip()
        for args in (["-p", "kafkit-cli"], ["-p", "kafkit-testkit", "--example", "broker"]):
            subprocess.run(["cargo", "build", "--release", "--quiet", *args], cwd=REPO, check=True)
        self.kafkit = os.path.join(REPO, "target", "release", "kafkit")
        self.broker = os.path.join(REPO, "target", "release", "examples", "broker")
        rd_dir = os.path.join(BENCH_DIR, "rdkafka-perf")
        self.rdkafka = os.path.join(rd_dir, "target", "release", "rdkafka-perf")
        if not os.path.exists(self.rdkafka):
            subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=rd_dir, check=True)
        os.makedirs(CACHE, exist_ok=True)
        self.franz = os.path.join(CACHE, "franz")
        subprocess.run(["go", "build", "-o", self.franz, "."],
                       cwd=os.path.join(REPO, "testing", "peers", "go"), check=True)

    def java(self, main, *args):
        return ["java", "-Xmx512m", "-cp", f"{self.kafka_libs}/*", main, *args]


def clients_for(kind, clients):
    """The clients that can run against a broker of `kind`: the Java client 4.4 writes
    nothing to Tansu 0.6.0 (its requests go unanswered until they expire; docs/TESTING.md),
    so it runs on Kafka only."""
    if kind == "tansu" and "java" in clients:
        print("# the Java client is left out on Tansu: it cannot write to Tansu 0.6.0", flush=True)
        return [c for c in clients if c != "java"]
    return clients


class Broker:
    """A test broker of `kind` (tansu or kafka), stopped by stop()."""

    def __init__(self, tools, kind):
        env = dict(os.environ, KAFKIT_TEST_BROKER=kind, KAFKIT_KAFKA_LIBS=tools.kafka_libs)
        self.kind = kind
        self.proc = subprocess.Popen([tools.broker], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
        self.bootstrap = self.proc.stdout.readline().strip()
        # Tansu 0.6.0 closes franz-go 1.22's connection at ApiVersions unless franz-go keeps
        # to the protocol versions of Kafka 4.0 (docs/TESTING.md).
        if kind == "tansu":
            os.environ["FRANZ_MAX_VERSIONS"] = "4.0"
        else:
            os.environ.pop("FRANZ_MAX_VERSIONS", None)
        if not self.bootstrap:
            raise SystemExit(f"the {kind} broker did not start")

    def cpu(self):
        """CPU seconds of the broker's process tree so far."""
        tick = os.sysconf("SC_CLK_TCK")
        total, todo = 0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as f:
                        todo += [int(c) for c in f.read().split()]
            except (FileNotFoundError, ProcessLookupError):
                pass
        return total / tick

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait()


def measured(cmd):
    """Runs cmd; returns (stdout, CPU seconds of the process), from the kernel's accounting."""
    before = os.times()
    out = subprocess.run(cmd, capture_output=True, text=True)
    after = os.times()
    if out.returncode:
        raise SystemExit(f"{' '.join(cmd[:6])} ... failed ({out.returncode}): {out.stderr.strip()[-800:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return out.stdout, cpu


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def produce_cmd(tools, client, bootstrap, topic, n, size, acks, codec):
    if client == "kafkit":
        return [tools.kafkit, "-b", bootstrap, "perf", "produce", "--topic", topic,
                "--messages", str(n), "--size", str(size), "--acks", acks,
                "--compression", codec, "--linger-ms", "5", "--json"]
    if client == "librdkafka":
        return [tools.rdkafka, "--bootstrap", bootstrap, "--topic", topic, "--messages", str(n),
                "--size", str(size), "produce", "--acks", acks, "--compression", codec,
                "--linger-ms", "5", "--keys", "0"]
    if client == "java":
        return tools.java("org.apache.kafka.tools.ProducerPerformance", "--topic", topic,
                          "--num-records", str(n), "--record-size", str(size), "--throughput", "-1",
                          "--producer-props", f"bootstrap.servers={bootstrap}", f"acks={acks}",
                          "linger.ms=5", f"compression.type={codec}")
    if client == "franz-go":
        return [tools.franz, "perf-produce", bootstrap, topic, str(n), str(size), "0"]
    raise ValueError(client)


def consume_cmd(tools, client, bootstrap, topic, n, partitions):
    if client == "kafkit":
        return [tools.kafkit, "-b", bootstrap, "perf", "consume", "--topic", topic,
                "--messages", str(n), "--json"]
    if client == "librdkafka":
        return [tools.rdkafka, "--bootstrap", bootstrap, "--topic", topic, "--messages", str(n),
                "consume", "--partitions", str(partitions)]
    if client == "java":
        return tools.java("org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server",
                          bootstrap, "--topic", topic, "--messages", str(n), "--timeout", "30000",
                          "--group", f"bench-java-{time.time_ns()}")
    if client == "franz-go":
        return [tools.franz, "perf-consume", bootstrap, topic, str(n)]
    raise ValueError(client)


def rate_of(client, op, out):
    """Records/s as the client reports it."""
    if client == "java" and op == "produce":
        return float(re.findall(r"([0-9.]+) records/sec", out)[-1])
    if client == "java":
        # ConsumerPerformance: a header line, then one CSV line; fetch.nMsg.sec leaves out the
        # group join.
        lines = [l for l in out.strip().splitlines() if "," in l]
        header = [h.strip() for h in lines[0].split(",")]
        values = [v.strip() for v in lines[-1].split(",")]
        return float(values[header.index("fetch.nMsg.sec")])
    return float(last_json(out)["msgs_per_s"])


def run(cmd_of, client, op, broker, n):
    """One measured run of n records: (records/s, client CPU s, broker CPU s)."""
    b0 = broker.cpu()
    out, cpu = measured(cmd_of(n))
    b1 = broker.cpu()
    return rate_of(client, op, out), cpu, b1 - b0


def print_tables(title, rows, brokers, partitions):
    """The medians, then kafkit against the fastest peer and the most frugal one."""
    print(f"\n{title}\n")
    print("| broker | partitions | client | records/s | client CPU µs/rec | broker CPU µs/rec |")
    print("|---|---:|---|---:|---:|---:|")
    for kind, parts, client, rate, cpu, bcpu in rows:
        print(f"| {kind} | {parts} | {client} | {rate:,.0f} | {cpu:.2f} | {bcpu:.2f} |")
    print("\n| broker | partitions | fastest peer | kafkit / its rate | kafkit / its CPU "
          "| most frugal peer | kafkit / its CPU |")
    print("|---|---:|---|---:|---:|---|---:|")
    for kind in brokers.split(","):
        for parts in [int(p) for p in partitions.split(",")]:
            mine = {c: (rate, cpu) for k, p, c, rate, cpu, _ in rows if k == kind and p == parts}
            if "kafkit" not in mine or len(mine) < 2:
                continue
            peers = {c: v for c, v in mine.items() if c != "kafkit"}
            best = max(peers, key=lambda c: peers[c][0])
            frugal = min(peers, key=lambda c: peers[c][1])
            k = mine["kafkit"]
            print(f"| {kind} | {parts} | {best} | {ratio(k[0], peers[best][0])} | "
                  f"{ratio(k[1], peers[best][1])} | {frugal} | {ratio(k[1], peers[frugal][1])} |")


def ratio(a, b):
    """a / b as `1.23×`, or `n/a` when b is not positive (a run too short to measure)."""
    return f"{a / b:.2f}×" if b > 0 else "n/a"
