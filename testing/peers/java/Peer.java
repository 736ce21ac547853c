// The Java client as a peer for kafkit's interop tests, over kafka-clients from Maven Central
// (the jars scripts/install-kafka puts in ~/.cache/kafkit/kafka-VERSION/libs). The test kit
// compiles it with javac on first use (kafkit_testkit::peers::java).
//
//   produce-txn BOOTSTRAP TOPIC TXN_ID N   one transaction of N records "java-commit-I",
//                                          committed; one of N "java-abort-I", aborted;
//                                          prints "done"
//   consume BOOTSTRAP TOPIC ISOLATION N    reads every partition from the beginning with
//                                          isolation.level ISOLATION until N records arrived
//                                          or 5 s passed with nothing new; prints each record
//                                          as PARTITION<TAB>OFFSET<TAB>VALUE
//   produce-mix BOOTSTRAP TOPIC CODEC      the interop record mix (null and empty keys and
//                                          values, duplicate / null / empty headers; keyed
//                                          records placed by the default partitioner) with
//                                          compression.type CODEC; prints "done"
//   group BOOTSTRAP TOPIC GROUP ASSIGNOR SECONDS
//                                          a group member (ASSIGNOR: range or
//                                          cooperative-sticky) reading from the group's
//                                          commits (else the beginning) for SECONDS, then
//                                          leaving; commits after each poll and on revocation;
//                                          prints "assigned P,..." / "revoked P,..." and each
//                                          record as record<TAB>PARTITION<TAB>OFFSET<TAB>VALUE
//   dump BOOTSTRAP TOPIC N                 reads N records as consume does, printing each as
//                                          PARTITION|KEY|VALUE|HEADERS (hex, "-" for null)
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

import java.util.Collection;
import java.util.stream.Collectors;

import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class Peer {
    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            usage();
        }
        switch (args[0]) {
            case "produce-txn" -> produceTxn(args);
            case "consume" -> consume(args);
            case "produce-mix" -> produceMix(args);
            case "dump" -> dump(args);
            case "group" -> group(args);
            default -> usage();
        }
    }

    private static void usage() {
        System.err.println("usage: Peer produce-txn BOOTSTRAP TOPIC TXN_ID N | consume BOOTSTRAP TOPIC ISOLATION N");
        System.exit(2);
    }

    private static void produceTxn(String[] args) {
        Properties p = new Properties();
        p.put("bootstrap.servers", args[1]);
        p.put("transactional.id", args[3]);
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        String topic = args[2];
        int n = Integer.parseInt(args[4]);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            producer.initTransactions();
            producer.beginTransaction();
            for (int i = 0; i < n; i++) {
                producer.send(new ProducerRecord<>(topic, "k" + i, "java-commit-" + i));
            }
            producer.commitTransaction();
            producer.beginTransaction();
            for (int i = 0; i < n; i++) {
                producer.send(new ProducerRecord<>(topic, "k" + i, "java-abort-" + i));
            }
            producer.flush();
            producer.abortTransaction();
        }
        System.out.println("done");
    }

    private static void consume(String[] args) {
        Properties p = new Properties();
        p.put("bootstrap.servers", args[1]);
        p.put("isolation.level", args[3]);
        p.put("enable.auto.commit", "false");
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        String topic = args[2];
        int want = Integer.parseInt(args[4]);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            fromTheBeginning(consumer, topic);
            int seen = 0;
            long quietSince = System.currentTimeMillis();
            while (seen < want && System.currentTimeMillis() - quietSince < 5000) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    System.out.println(r.partition() + "\t" + r.offset() + "\t" + r.value());
                    seen++;
                    quietSince = System.currentTimeMillis();
                }
            }
        }
    }

    /** Record I of the interop mix: the same rules as kafkit's test (transactions_interop.rs). */
    static byte[] mixKey(int i) {
        return switch (i % 4) {
            case 0 -> null;
            case 1 -> new byte[0];
            default -> ("key-" + i).getBytes(StandardCharsets.UTF_8);
        };
    }

    static byte[] mixValue(int i) {
        return switch (i % 5) {
            case 0 -> null;
            case 1 -> new byte[0];
            default -> ("value-" + i + "-" + "x".repeat(i * 7)).getBytes(StandardCharsets.UTF_8);
        };
    }

    static final int MIX = 40;

    private static void produceMix(String[] args) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", args[1]);
        p.put("compression.type", args[3]);
        p.put("key.serializer", ByteArraySerializer.class.getName());
        p.put("value.serializer", ByteArraySerializer.class.getName());
        String topic = args[2];
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < MIX; i++) {
                RecordHeaders headers = new RecordHeaders();
                if (i % 3 == 0) {
                    headers.add("h", "a".getBytes(StandardCharsets.UTF_8));
                    headers.add("h", null);
                    headers.add("h", new byte[0]);
                    headers.add("other", "b".getBytes(StandardCharsets.UTF_8));
                }
                byte[] key = mixKey(i);
                Integer partition = key == null ? Integer.valueOf(i % 3) : null;
                producer.send(new ProducerRecord<>(topic, partition, key, mixValue(i), headers)).get();
            }
        }
        System.out.println("done");
    }

    static String hex(byte[] b) {
        if (b == null) {
            return "-";
        }
        StringBuilder s = new StringBuilder("x");
        for (byte x : b) {
            s.append(String.format("%02x", x));
        }
        return s.toString();
    }

    private static void dump(String[] args) {
        Properties p = new Properties();
        p.put("bootstrap.servers", args[1]);
        p.put("enable.auto.commit", "false");
        p.put("key.deserializer", ByteArrayDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        String topic = args[2];
        int want = Integer.parseInt(args[3]);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            fromTheBeginning(consumer, topic);
            int seen = 0;
            long quietSince = System.currentTimeMillis();
            while (seen < want && System.currentTimeMillis() - quietSince < 5000) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    StringBuilder h = new StringBuilder();
                    for (Header header : r.headers()) {
                        if (h.length() > 0) {
                            h.append(',');
                        }
                        h.append(hex(header.key().getBytes(StandardCharsets.UTF_8))).append('=').append(hex(header.value()));
                    }
                    System.out.println(r.partition() + "|" + hex(r.key()) + "|" + hex(r.value()) + "|" + h);
                    seen++;
                    quietSince = System.currentTimeMillis();
                }
            }
        }
    }

    static String partitions(Collection<TopicPartition> tps) {
        return tps.stream().map(tp -> Integer.toString(tp.partition())).sorted().collect(Collectors.joining(","));
    }

    private static void group(String[] args) {
        Properties p = new Properties();
        p.put("bootstrap.servers", args[1]);
        p.put("group.id", args[3]);
        p.put("partition.assignment.strategy", switch (args[4]) {
            case "range" -> RangeAssignor.class.getName();
            case "cooperative-sticky" -> CooperativeStickyAssignor.class.getName();
            default -> throw new IllegalArgumentException("assignor " + args[4]);
        });
        p.put("enable.auto.commit", "false");
        p.put("auto.offset.reset", "earliest");
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        String topic = args[2];
        long until = System.currentTimeMillis() + Long.parseLong(args[5]) * 1000;
        KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p);
        consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> revoked) {
                java.util.Map<TopicPartition, OffsetAndMetadata> at = new java.util.HashMap<>();
                for (TopicPartition tp : revoked) {
                    at.put(tp, new OffsetAndMetadata(consumer.position(tp)));
                }
                consumer.commitSync(at);
                System.out.println("revoked " + partitions(revoked));
                System.out.flush();
            }

            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> assigned) {
                System.out.println("assigned " + partitions(consumer.assignment()));
                System.out.flush();
            }
        });
        while (System.currentTimeMillis() < until) {
            var records = consumer.poll(Duration.ofMillis(200));
            for (ConsumerRecord<String, String> r : records) {
                System.out.println("record\t" + r.partition() + "\t" + r.offset() + "\t" + r.value());
            }
            if (!records.isEmpty()) {
                consumer.commitSync();
            }
            System.out.flush();
        }
        consumer.close();
        System.out.println("left");
    }

    /** Assigns every partition of topic to consumer, from the beginning. */
    static void fromTheBeginning(KafkaConsumer<?, ?> consumer, String topic) {
        List<TopicPartition> tps = new ArrayList<>();
        for (PartitionInfo info : consumer.partitionsFor(topic)) {
            tps.add(new TopicPartition(topic, info.partition()));
        }
        consumer.assign(tps);
        consumer.seekToBeginning(tps);
    }
}
