package main

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Recovery time after a SIGKILL: from the start of the restarted process to
// the first alert record it writes. Each detector process writes with a
// Kafka producer of its own (a new producer id, or with transactions a new
// epoch of its transactional id), so a new producer on the alerts topic is
// a process that has started to produce.

// producerWatch follows a topic from its start with franz-go, reading
// uncommitted (a record of an aborted transaction was produced all the same),
// and notes for every producer (id and epoch) the timestamp of its first record.
type producerWatch struct {
	mu    sync.Mutex
	first map[[2]int64]time.Time

	cancel context.CancelFunc
	done   chan struct{}
}

func watchProducers(t *testing.T, b chaosBroker, topic string) *producerWatch {
	t.Helper()
	opts, err := b.target.Config.ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &producerWatch{first: map[[2]int64]time.Time{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer cl.Close()
		for ctx.Err() == nil {
			fetches := cl.PollFetches(ctx)
			w.mu.Lock()
			fetches.EachRecord(func(r *kgo.Record) {
				k := [2]int64{r.ProducerID, int64(r.ProducerEpoch)}
				if f, ok := w.first[k]; !ok || r.Timestamp.Before(f) {
					w.first[k] = r.Timestamp
				}
			})
			w.mu.Unlock()
		}
	}()
	t.Cleanup(w.stop)
	return w
}

// stop ends the watch and waits for its goroutine; it is safe to repeat.
func (w *producerWatch) stop() {
	w.cancel()
	<-w.done
}

// firsts returns the first-record times of all producers seen, in order.
func (w *producerWatch) firsts() []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]time.Time, 0, len(w.first))
	for _, f := range w.first {
		out = append(out, f)
	}
	slices.SortFunc(out, time.Time.Compare)
	return out
}

// lifetime is when one process incarnation ran: ended is zero while it runs.
type lifetime struct {
	started, ended time.Time
}

// firstRecordDelays pairs process incarnations with the producers that
// wrote to a topic, both in time order, first in first out: each
// incarnation takes the earliest producer not taken yet whose first record
// falls within its life. It returns, per incarnation, the time from its
// start to that first record, or -1 when none fits (the process was killed
// before it produced).
func firstRecordDelays(lives []lifetime, firsts []time.Time) []time.Duration {
	taken := make([]bool, len(firsts))
	out := make([]time.Duration, len(lives))
	for i, l := range lives {
		out[i] = -1
		for j, f := range firsts {
			if taken[j] || f.Before(l.started) || (!l.ended.IsZero() && f.After(l.ended)) {
				continue
			}
			taken[j] = true
			out[i] = f.Sub(l.started)
			break
		}
	}
	return out
}

func TestFirstRecordDelays(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	s := func(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }
	tests := []struct {
		name   string
		lives  []lifetime
		firsts []time.Time
		want   []time.Duration
	}{
		{"each start meets its producer", []lifetime{{s(0), s(10)}, {s(11), time.Time{}}}, []time.Time{s(1), s(12.5)},
			[]time.Duration{time.Second, 1500 * time.Millisecond}},
		{"a process killed before producing gets none", []lifetime{{s(0), s(3)}, {s(4), time.Time{}}}, []time.Time{s(5)},
			[]time.Duration{-1, time.Second}},
		{"a slow start keeps its producer from a later one", []lifetime{{s(0), time.Time{}}, {s(2), time.Time{}}}, []time.Time{s(3), s(4)},
			[]time.Duration{3 * time.Second, 2 * time.Second}},
		{"no producer", []lifetime{{s(0), time.Time{}}}, nil, []time.Duration{-1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := firstRecordDelays(tt.lives, tt.firsts); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// recoverySummary returns the median and the largest of the measured
// delays (those not -1) and how many there are.
func recoverySummary(delays []time.Duration) (median, largest time.Duration, measured int) {
	var m []time.Duration
	for _, d := range delays {
		if d >= 0 {
			m = append(m, d)
		}
	}
	if len(m) == 0 {
		return -1, -1, 0
	}
	slices.Sort(m)
	median = m[len(m)/2]
	if len(m)%2 == 0 {
		median = (m[len(m)/2-1] + m[len(m)/2]) / 2
	}
	return median, m[len(m)-1], len(m)
}
