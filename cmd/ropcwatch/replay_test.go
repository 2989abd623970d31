package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/detector"
	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/stream/kafkatest"
)

// readTopic reads n messages from the start of topic.
func readTopic(t *testing.T, target kafkatest.KafkaTarget, topic string, n int) []stream.Record {
	t.Helper()
	c, err := stream.NewConsumer(stream.ConsumerConfig{Kafka: target.Config, Topics: []string{topic}, Group: "reader-" + topic}, stream.PartitionHooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var got []stream.Record
	for deadline := time.Now().Add(30 * time.Second); len(got) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("read %d of %d messages", len(got), n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		b, _ := c.Poll(ctx)
		cancel()
		got = append(got, b.Records...)
		c.AllowRebalance()
	}
	return got
}

func TestReplayGeneratedAndFiles(t *testing.T) {
	target := kafkatest.Cluster(t)
	brokers := strings.Join(target.Brokers, ",")

	topic := kafkatest.NewTopic(t, target, 2)
	r := runCmd(t, "", "replay", "--brokers", brokers, "--topic", topic, "--generate", "3000", "--seed", "3", "--shift-to-now", "--progress", "0")
	if r.code != exitOK || !strings.Contains(r.stderr, "replayed: ") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var n int
	if _, err := fmt.Sscanf(r.stderr[strings.Index(r.stderr, "replayed: "):], "replayed: %d messages", &n); err != nil || n == 0 {
		t.Fatalf("no count in %q", r.stderr)
	}
	got := readTopic(t, target, topic, n)
	var first time.Time
	for _, rec := range got {
		if et, ok := detector.EventTime(rec.Value); ok && (first.IsZero() || et.Before(first)) {
			first = et
		}
	}
	if d := time.Since(first); d < 0 || d > time.Minute {
		t.Fatalf("after --shift-to-now the first sign-in happened %v ago", d)
	}

	plain := filepath.Join(t.TempDir(), "two.jsonl")
	if err := os.WriteFile(plain, []byte("{\"a\":1}\n\n{\"b\":2}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := gzipFile(t, plain)
	topic2 := kafkatest.NewTopic(t, target, 1)
	r = runCmd(t, "", "replay", "--brokers", brokers, "--topic", topic2, "--loop", "2", "--rate", "1000", file)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	got = readTopic(t, target, topic2, 4)
	if string(got[0].Value) != `{"a":1}` || string(got[3].Value) != `{"b":2}` {
		t.Fatalf("replayed %q ... %q", got[0].Value, got[3].Value)
	}
}

func TestReplayUsage(t *testing.T) {
	for _, args := range [][]string{
		{"replay", "--brokers", "127.0.0.1:1"},
		{"replay", "--brokers", "127.0.0.1:1", "--topic", "t"},
		{"replay", "--brokers", "127.0.0.1:1", "--topic", "t", "--generate", "5", "file.jsonl"},
		{"replay", "--brokers", "127.0.0.1:1", "--topic", "t", "--generate", "5", "--loop", "0"},
		{"replay", "--brokers", "127.0.0.1:1", "--topic", "t", "--generate", "5", "--compression", "zip"},
	} {
		if r := runCmd(t, "", args...); r.code != exitFailure {
			t.Fatalf("%v: exit %d", args, r.code)
		}
	}
}
