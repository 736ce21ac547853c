// franz-go (kgo) as a peer for kafkit's interop tests. The test kit builds it with
// `go build` on first use (kafkit_testkit::go_peer); modules come from the Go module proxy.
//
//	produce-mix BOOTSTRAP TOPIC CODEC   the interop record mix (see Peer.java: null and empty
//	                                    keys and values, duplicate / null / empty headers;
//	                                    keyed records placed by Java's murmur2 partitioning,
//	                                    keyless ones by explicit partition); prints "done"
//	dump BOOTSTRAP TOPIC N              reads N records of every partition from the beginning,
//	                                    printing PARTITION|KEY|VALUE|HEADERS (hex, "-" for null)
//	perf-produce, perf-consume          benchmarks (perf.go)
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const mix = 40

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "produce-mix":
		produceMix(os.Args[2], os.Args[3], os.Args[4])
	case "dump":
		n, err := strconv.Atoi(os.Args[4])
		check(err)
		dump(os.Args[2], os.Args[3], n)
	default:
		if !perfMain(os.Args[1:]) {
			usage()
		}
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: franz produce-mix BOOTSTRAP TOPIC CODEC | dump BOOTSTRAP TOPIC N"+
		" | perf-produce BOOTSTRAP TOPIC N SIZE KEYS | perf-consume BOOTSTRAP TOPIC N")
	os.Exit(2)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func mixKey(i int) []byte {
	switch i % 4 {
	case 0:
		return nil
	case 1:
		return []byte{}
	default:
		return []byte(fmt.Sprintf("key-%d", i))
	}
}

func mixValue(i int) []byte {
	switch i % 5 {
	case 0:
		return nil
	case 1:
		return []byte{}
	default:
		return []byte(fmt.Sprintf("value-%d-%s", i, strings.Repeat("x", i*7)))
	}
}

// mixPartitioner: Java's murmur2 for keyed records (kgo's sticky key partitioner hashes keys
// as the Java client does), the record's own partition for keyless ones.
type mixPartitioner struct{}

func (mixPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return mixTopic{kgo.StickyKeyPartitioner(nil).ForTopic(topic)}
}

type mixTopic struct{ keyed kgo.TopicPartitioner }

func (t mixTopic) RequiresConsistency(r *kgo.Record) bool { return true }
func (t mixTopic) Partition(r *kgo.Record, n int) int {
	if r.Key == nil {
		return int(r.Partition)
	}
	return t.keyed.Partition(r, n)
}

func codec(name string) kgo.CompressionCodec {
	switch name {
	case "none":
		return kgo.NoCompression()
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	check(fmt.Errorf("unknown codec %q", name))
	return kgo.NoCompression()
}

func produceMix(bootstrap, topic, codecName string) {
	client, err := kgo.NewClient(
		kgo.SeedBrokers(bootstrap),
		kgo.RecordPartitioner(mixPartitioner{}),
		kgo.ProducerBatchCompression(codec(codecName)),
	)
	check(err)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 0; i < mix; i++ {
		r := &kgo.Record{Topic: topic, Key: mixKey(i), Value: mixValue(i)}
		if i%3 == 0 {
			r.Headers = []kgo.RecordHeader{
				{Key: "h", Value: []byte("a")},
				{Key: "h", Value: nil},
				{Key: "h", Value: []byte{}},
				{Key: "other", Value: []byte("b")},
			}
		}
		if r.Key == nil {
			r.Partition = int32(i % 3)
		}
		check(client.ProduceSync(ctx, r).FirstErr())
	}
	fmt.Println("done")
}

func hex(b []byte) string {
	if b == nil {
		return "-"
	}
	return "x" + fmt.Sprintf("%x", b)
}

func dump(bootstrap, topic string, want int) {
	client, err := kgo.NewClient(
		kgo.SeedBrokers(bootstrap),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	check(err)
	defer client.Close()
	seen := 0
	quietSince := time.Now()
	for seen < want && time.Since(quietSince) < 5*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		fetches := client.PollFetches(ctx)
		cancel()
		fetches.EachRecord(func(r *kgo.Record) {
			var hs []string
			for _, h := range r.Headers {
				hs = append(hs, hex([]byte(h.Key))+"="+hex(h.Value))
			}
			fmt.Printf("%d|%s|%s|%s\n", r.Partition, hex(r.Key), hex(r.Value), strings.Join(hs, ","))
			seen++
			quietSince = time.Now()
		})
	}
}
