package stream_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/stream/kafkatest"
)

func TestPartitionLag(t *testing.T) {
	tests := []struct {
		name string
		in   stream.PartitionOffsets
		want int64
	}{
		{"nothing committed counts from the start", stream.PartitionOffsets{Start: 2, End: 10, Committed: -1}, 8},
		{"committed counts from the commit", stream.PartitionOffsets{Start: 2, End: 10, Committed: 7}, 3},
		{"a commit below the retained start counts from the start", stream.PartitionOffsets{Start: 5, End: 10, Committed: 1}, 5},
		{"caught up is zero", stream.PartitionOffsets{End: 10, Committed: 10}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.Lag(); got != tt.want {
				t.Errorf("Lag() = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestMonitorFollowsAGroup watches a group from outside: not ready before
// it joins, then assigned, and its lag shrinking as it commits.
func TestMonitorFollowsAGroup(t *testing.T) {
	ctx := testContext(t)
	tgt := target(t)
	topic := kafkatest.NewTopic(t, tgt, 2)
	group := topic
	mon, err := stream.NewMonitor(tgt.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()

	if err := mon.Assigned(ctx, topic, group); !errors.Is(err, stream.ErrGroupNotReady) {
		t.Fatalf("Assigned before any member: %v, want ErrGroupNotReady", err)
	}
	p := newProducer(t, tgt.Config)
	var recs []stream.Record
	for i := range 10 {
		recs = append(recs, stream.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v")})
	}
	if err := p.ProduceSync(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	offsets, err := mon.Offsets(ctx, topic, group)
	if err != nil {
		t.Fatalf("Offsets of a group that never committed: %v", err)
	}
	if len(offsets) != 2 || offsets.End() != 10 || offsets.Lag() != 10 || offsets.Committed() != 0 {
		t.Fatalf("before commits: %+v", offsets)
	}

	c := newConsumer(t, stream.ConsumerConfig{Kafka: tgt.Config, Topics: []string{topic}, Group: group}, stream.PartitionHooks{})
	got := pollN(ctx, t, c, 10)
	last := map[stream.TopicPartition]int64{}
	for _, r := range got[:6] {
		last[stream.TopicPartition{Topic: r.Topic, Partition: r.Partition}] = r.Offset + 1
	}
	if err := c.Commit(ctx, last); err != nil {
		t.Fatal(err)
	}
	for {
		err := mon.Assigned(ctx, topic, group)
		if err == nil {
			break
		}
		if !errors.Is(err, stream.ErrGroupNotReady) || ctx.Err() != nil {
			t.Fatalf("Assigned with a member consuming both partitions: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	offsets, err = mon.Offsets(ctx, topic, group)
	if err != nil {
		t.Fatal(err)
	}
	if offsets.Committed() != 6 || offsets.Lag() != 4 {
		t.Errorf("after committing 6 of 10: committed %d, lag %d; %+v", offsets.Committed(), offsets.Lag(), offsets)
	}
	if _, err := mon.Offsets(context.Background(), topic, ""); err != nil {
		t.Errorf("Offsets without a group: %v", err)
	}
}
