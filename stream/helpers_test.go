package stream_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/stream/kafkatest"
)

const testTimeout = 30 * time.Second

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func newProducer(t *testing.T, kc stream.KafkaConfig) *stream.Producer {
	t.Helper()
	p, err := stream.NewProducer(stream.ProducerConfig{Kafka: kc})
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

func newConsumer(t *testing.T, cfg stream.ConsumerConfig, hooks stream.PartitionHooks) *stream.Consumer {
	t.Helper()
	c, err := stream.NewConsumer(stream.WithFastGroup(cfg), hooks)
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

// pollN polls until it has n records or ctx is done.
func pollN(ctx context.Context, t *testing.T, c *stream.Consumer, n int) []stream.Record {
	t.Helper()
	var got []stream.Record
	for len(got) < n {
		b, err := c.Poll(ctx)
		if err != nil {
			t.Fatalf("Poll after %d of %d records: %v", len(got), n, err)
		}
		got = append(got, b.Records...)
		c.AllowRebalance()
	}
	return got
}

// hookLog records hook calls; hooks run on franz-go's goroutines.
type hookLog struct {
	mu       sync.Mutex
	assigned map[int32]bool // currently owned partitions
	revoked  []int32
	changed  chan struct{}
}

func newHookLog() *hookLog {
	return &hookLog{assigned: map[int32]bool{}, changed: make(chan struct{}, 1)}
}

func (h *hookLog) hooks() stream.PartitionHooks {
	return stream.PartitionHooks{
		Assigned: func(_ context.Context, _ string, ps []int32) {
			h.mu.Lock()
			for _, p := range ps {
				h.assigned[p] = true
			}
			h.mu.Unlock()
			h.notify()
		},
		Revoked: func(_ context.Context, _ string, ps []int32) {
			h.mu.Lock()
			for _, p := range ps {
				delete(h.assigned, p)
			}
			h.revoked = append(h.revoked, ps...)
			h.mu.Unlock()
			h.notify()
		},
	}
}

func (h *hookLog) notify() {
	select {
	case h.changed <- struct{}{}:
	default:
	}
}

// waitOwned waits until the member owns exactly n partitions.
func (h *hookLog) waitOwned(ctx context.Context, t *testing.T, n int) map[int32]bool {
	t.Helper()
	for {
		h.mu.Lock()
		owned := make(map[int32]bool, len(h.assigned))
		for p := range h.assigned {
			owned[p] = true
		}
		h.mu.Unlock()
		if len(owned) == n {
			return owned
		}
		select {
		case <-h.changed:
		case <-ctx.Done():
			t.Fatalf("waiting to own %d partitions, own %v: %v", n, owned, ctx.Err())
		}
	}
}

func (h *hookLog) revokedPartitions() []int32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int32(nil), h.revoked...)
}

// target returns the shared test broker: kfake unless CI names a real one.
func target(t *testing.T) kafkatest.KafkaTarget {
	t.Helper()
	return kafkatest.Cluster(t)
}
