// Benchmarks in the peers' JSON shape (../shared/bench/README.md), for scripts/bench-produce
// and scripts/bench-consume:
//
//	perf-produce BOOTSTRAP TOPIC N SIZE KEYS   N records of SIZE bytes, acks=all, idempotent,
//	                                           linger 5 ms; keyed over KEYS keys (0: no keys)
//	perf-consume BOOTSTRAP TOPIC N             N records from the start of every partition
//	                                           (no group)
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// resources returns the process's CPU seconds and peak RSS in KiB.
func resources() (float64, int64) {
	var u syscall.Rusage
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &u))
	t := func(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }
	return t(u.Utime) + t(u.Stime), u.Maxrss
}

func report(op string, n, bytes int64, wall, cpu float64, rss int64) {
	line, err := json.Marshal(map[string]any{
		"client": "franz-go", "op": op, "messages": n, "bytes": bytes,
		"wall_s": wall, "cpu_s": cpu,
		"msgs_per_s": float64(n) / wall, "mb_per_s": float64(bytes) / wall / 1e6,
		"cpu_us_per_msg": cpu * 1e6 / float64(n), "max_rss_kib": rss,
	})
	check(err)
	fmt.Println(string(line))
}

// capped limits the protocol versions to those of the Kafka release $FRANZ_MAX_VERSIONS
// names (e.g. 3.7), when set.
func capped(opts ...kgo.Opt) []kgo.Opt {
	if v := os.Getenv("FRANZ_MAX_VERSIONS"); v != "" {
		versions := kversion.FromString(v)
		if versions == nil {
			check(fmt.Errorf("FRANZ_MAX_VERSIONS=%s: not a Kafka release franz-go knows", v))
		}
		opts = append(opts, kgo.MaxVersions(versions))
	}
	return opts
}

func perfProduce(bootstrap, topic string, n, size, keys int) {
	client, err := kgo.NewClient(capped(
		kgo.SeedBrokers(bootstrap),
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(1<<20),
	)...)
	check(err)
	defer client.Close()
	value := make([]byte, size)
	for i := range value {
		value[i] = 'x'
	}
	var wg sync.WaitGroup
	var failed error
	var once sync.Once
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			once.Do(func() { failed = err })
		}
		wg.Done()
	}
	cpu0, _ := resources()
	start := time.Now()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		r := &kgo.Record{Value: value}
		if keys > 0 {
			r.Key = []byte(fmt.Sprintf("key-%d", i%keys))
		}
		wg.Add(1)
		client.Produce(ctx, r, done)
	}
	check(client.Flush(ctx))
	wg.Wait()
	check(failed)
	wall := time.Since(start).Seconds()
	cpu1, rss := resources()
	report("produce", int64(n), int64(n*size), wall, cpu1-cpu0, rss)
}

func perfConsume(bootstrap, topic string, n int) {
	client, err := kgo.NewClient(capped(
		kgo.SeedBrokers(bootstrap),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)...)
	check(err)
	defer client.Close()
	cpu0, _ := resources()
	start := time.Now()
	var seen, bytes int64
	for seen < int64(n) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		fetches := client.PollFetches(ctx)
		cancel()
		if fetches.IsClientClosed() || fetches.NumRecords() == 0 {
			check(fmt.Errorf("no record within 10 s after %d records", seen))
		}
		fetches.EachRecord(func(r *kgo.Record) {
			seen++
			bytes += int64(len(r.Value))
		})
	}
	wall := time.Since(start).Seconds()
	cpu1, rss := resources()
	report("consume", seen, bytes, wall, cpu1-cpu0, rss)
}

func perfMain(args []string) bool {
	atoi := func(s string) int {
		var v int
		_, err := fmt.Sscan(s, &v)
		check(err)
		return v
	}
	switch args[0] {
	case "perf-produce":
		perfProduce(args[1], args[2], atoi(args[3]), atoi(args[4]), atoi(args[5]))
	case "perf-consume":
		perfConsume(args[1], args[2], atoi(args[3]))
	default:
		return false
	}
	return true
}
