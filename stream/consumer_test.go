package stream_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/stream/kafkatest"
)

func TestProduceThenConsumePreservesRecords(t *testing.T) {
	ctx := testContext(t)
	tgt := target(t)
	topic := kafkatest.NewTopic(t, tgt, 3)
	p := newProducer(t, tgt.Config)

	var want []stream.Record
	for i := range 30 {
		want = append(want, stream.Record{
			Topic: topic,
			Key:   fmt.Appendf(nil, "user-%d", i%7),
			Value: append(fmt.Appendf(nil, `{"n":%d}`, i), 0xff, 0x00), // not UTF-8: bytes, not text
			Headers: []stream.Header{
				{Key: "h1", Value: []byte("v1")},
				{Key: "h1", Value: []byte("repeated")},
				{Key: "empty", Value: nil},
			},
		})
	}
	if err := p.ProduceSync(ctx, want...); err != nil {
		t.Fatalf("ProduceSync: %v", err)
	}

	c := newConsumer(t, stream.ConsumerConfig{Kafka: tgt.Config, Topics: []string{topic}, Group: topic}, stream.PartitionHooks{})
	got := pollN(ctx, t, c, len(want))

	// Records with one key share a partition, in produce order, at
	// consecutive offsets from 0.
	next := map[int32]int64{}
	keyPartition := map[string]int32{}
	byValue := map[string]stream.Record{}
	for _, r := range got {
		if r.Offset != next[r.Partition] {
			t.Errorf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
		}
		next[r.Partition] = r.Offset + 1
		if p, ok := keyPartition[string(r.Key)]; ok && p != r.Partition {
			t.Errorf("key %s in partitions %d and %d", r.Key, p, r.Partition)
		}
		keyPartition[string(r.Key)] = r.Partition
		byValue[string(r.Value)] = r
	}
	for _, w := range want {
		g, ok := byValue[string(w.Value)]
		if !ok {
			t.Errorf("record %q not consumed", w.Value)
			continue
		}
		if g.Topic != topic || !bytes.Equal(g.Key, w.Key) || !sameHeaders(g.Headers, w.Headers) || g.Timestamp.IsZero() {
			t.Errorf("consumed %+v, want key %q headers %v", g, w.Key, w.Headers)
		}
	}
}

func sameHeaders(a, b []stream.Header) bool {
	return slices.EqualFunc(a, b, func(x, y stream.Header) bool { return x.Key == y.Key && bytes.Equal(x.Value, y.Value) })
}

func TestPollReportsEndsAndNext(t *testing.T) {
	ctx := testContext(t)
	tgt := target(t)
	topic := kafkatest.NewTopic(t, tgt, 1)
	p := newProducer(t, tgt.Config)
	if err := p.ProduceSync(ctx, stream.Record{Topic: topic, Value: []byte("a")}, stream.Record{Topic: topic, Value: []byte("b")}); err != nil {
		t.Fatalf("ProduceSync: %v", err)
	}
	c := newConsumer(t, stream.ConsumerConfig{Kafka: tgt.Config, Topics: []string{topic}, Group: topic}, stream.PartitionHooks{})
	b, err := c.Poll(ctx)
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	tp := stream.TopicPartition{Topic: topic, Partition: 0}
	if end := b.Ends[tp]; end != 2 {
		t.Errorf("end %d, want 2 (records %d)", end, len(b.Records))
	}
	if next := b.Next[tp]; next != int64(len(b.Records)) {
		t.Errorf("next %d after %d records", next, len(b.Records))
	}
}

func TestCommittedGroupResumesAfterCommit(t *testing.T) {
	ctx := testContext(t)
	tgt := target(t)
	topic := kafkatest.NewTopic(t, tgt, 1)
	p := newProducer(t, tgt.Config)
	for i := range 10 {
		if err := p.ProduceSync(ctx, stream.Record{Topic: topic, Value: fmt.Appendf(nil, "%d", i)}); err != nil {
			t.Fatalf("ProduceSync: %v", err)
		}
	}
	cfg := stream.ConsumerConfig{Kafka: tgt.Config, Topics: []string{topic}, Group: "g-" + topic}

	first, err := stream.NewConsumer(stream.WithFastGroup(cfg), stream.PartitionHooks{})
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	got := pollN(ctx, t, first, 10)
	// Processed through offset 4: the next offset to consume is 5.
	if err := first.Commit(ctx, map[stream.TopicPartition]int64{{Topic: topic, Partition: got[4].Partition}: got[4].Offset + 1}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	first.Close(ctx)

	second := newConsumer(t, cfg, stream.PartitionHooks{})
	resumed := pollN(ctx, t, second, 5)
	if resumed[0].Offset != 5 || string(resumed[0].Value) != "5" {
		t.Errorf("resumed at offset %d value %q, want offset 5 value \"5\"", resumed[0].Offset, resumed[0].Value)
	}
}

func TestSecondMemberTakesSomePartitionsCooperatively(t *testing.T) {
	ctx := testContext(t)
	tgt := target(t)
	const partitions = 6
	topic := kafkatest.NewTopic(t, tgt, partitions)
	cfg := stream.ConsumerConfig{Kafka: tgt.Config, Topics: []string{topic}, Group: "g-" + topic}

	pollCtx, stopPolling := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Close after the poll loops stop; cleanups run last-in first-out.
	t.Cleanup(wg.Wait)
	t.Cleanup(stopPolling)
	pollLoop := func(c *stream.Consumer) {
		wg.Go(func() {
			for pollCtx.Err() == nil {
				if _, err := c.Poll(pollCtx); err != nil && pollCtx.Err() == nil {
					t.Errorf("Poll: %v", err)
					return
				}
				c.AllowRebalance()
			}
		})
	}

	log1 := newHookLog()
	c1 := newConsumer(t, cfg, log1.hooks())
	pollLoop(c1)
	log1.waitOwned(ctx, t, partitions)

	log2 := newHookLog()
	c2 := newConsumer(t, cfg, log2.hooks())
	pollLoop(c2)
	owned2 := log2.waitOwned(ctx, t, partitions/2)
	owned1 := log1.waitOwned(ctx, t, partitions/2)

	// Cooperative: the first member gave up only what the second took.
	revoked := log1.revokedPartitions()
	slices.Sort(revoked)
	var took []int32
	for p := range owned2 {
		took = append(took, p)
		if owned1[p] {
			t.Errorf("partition %d owned by both members", p)
		}
	}
	slices.Sort(took)
	if !slices.Equal(revoked, took) {
		t.Errorf("first member revoked %v, second took %v; want the same (cooperative-sticky)", revoked, took)
	}
}

func TestStartOffsetOfANewGroup(t *testing.T) {
	tests := []struct {
		name        string
		startLatest bool
		wantBacklog bool
	}{
		{"by default a new group starts at the earliest offset", false, true},
		{"StartLatest skips the backlog", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			tgt := target(t)
			topic := kafkatest.NewTopic(t, tgt, 1)
			p := newProducer(t, tgt.Config)
			const backlog = 5
			for range backlog {
				if err := p.ProduceSync(ctx, stream.Record{Topic: topic, Value: []byte("backlog")}); err != nil {
					t.Fatalf("ProduceSync: %v", err)
				}
			}
			c := newConsumer(t, stream.ConsumerConfig{Kafka: tgt.Config, Topics: []string{topic}, Group: topic, StartLatest: tt.startLatest}, stream.PartitionHooks{})

			// Keep producing until the consumer sees something: where it
			// starts is only known once it has listed offsets.
			var first stream.Record
			for first.Value == nil {
				if err := p.ProduceSync(ctx, stream.Record{Topic: topic, Value: []byte("new")}); err != nil {
					t.Fatalf("ProduceSync: %v", err)
				}
				pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				b, err := c.Poll(pctx)
				cancel()
				if err != nil && ctx.Err() != nil {
					t.Fatalf("no record before the deadline: %v", err)
				}
				if len(b.Records) > 0 {
					first = b.Records[0]
				}
				c.AllowRebalance()
			}
			if gotBacklog := first.Offset < backlog; gotBacklog != tt.wantBacklog {
				t.Errorf("first record at offset %d (%q); want backlog %v", first.Offset, first.Value, tt.wantBacklog)
			}
		})
	}
}
