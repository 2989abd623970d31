package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2/ocf"

	"github.com/ropcwatch/ropcwatch/detector"
	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/stream/capturetest"
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

func TestReplayCaptureFilesWithJSONLines(t *testing.T) {
	target := kafkatest.Cluster(t)
	brokers := strings.Join(target.Brokers, ",")
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	envelope := `{"records":[{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00.1234567Z","properties":{"createdDateTime":"2026-05-01T10:00:00.1234567Z"}}]}`
	capture := write("hub-0-2026-05-01.avro", capturetest.File(t, ocf.Deflate, 2, []byte(envelope), []byte(`{"a":1}`), nil, []byte(`{"b":2}`)))
	empty := write("quiet-interval.avro", capturetest.File(t, ocf.Null, 0))
	lines := write("more.jsonl", []byte("{\"c\":3}\n"))

	topic := kafkatest.NewTopic(t, target, 1)
	r := runCmd(t, "", "replay", "--brokers", brokers, "--topic", topic, "--progress", "0", capture, empty, lines)
	if r.code != exitOK || !strings.Contains(r.stderr, "replayed: 4 messages") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var got []string
	for _, rec := range readTopic(t, target, topic, 4) {
		got = append(got, string(rec.Value))
	}
	if want := []string{envelope, `{"a":1}`, `{"b":2}`, `{"c":3}`}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("replayed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	shifted := kafkatest.NewTopic(t, target, 1)
	r = runCmd(t, "", "replay", "--brokers", brokers, "--topic", shifted, "--progress", "0", "--shift-to-now", capture)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	first := readTopic(t, target, shifted, 3)[0].Value
	if et, ok := detector.EventTime(first); !ok || time.Since(et) < 0 || time.Since(et) > time.Minute {
		t.Fatalf("after --shift-to-now the body is %s", first)
	}
	if strings.Contains(string(first), "2026-05-01T10:00:00.1234567Z") {
		t.Fatalf("time and createdDateTime did not move together: %s", first)
	}
}

func TestReplayCorruptCaptureFileNamesIt(t *testing.T) {
	target := kafkatest.Cluster(t)
	file := capturetest.File(t, ocf.Null, 0, []byte(`{"a":1}`))
	path := filepath.Join(t.TempDir(), "cut.avro")
	if err := os.WriteFile(path, file[:len(file)-8], 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, "", "replay", "--brokers", strings.Join(target.Brokers, ","), "--topic", kafkatest.NewTopic(t, target, 1), "--progress", "0", path)
	if r.code != exitFailure || !strings.Contains(r.stderr, "replay "+path+": avro block 1: ") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
}
