package detector

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
)

// The simulated broker of TestSimulation: partition logs, a consumer group,
// producers and transactions, all in memory, advanced by one seeded
// scheduler on one goroutine, with a virtual clock. Nothing in it runs on
// its own: a produce is acknowledged, a member kicked out of the group or
// a partition made unavailable only when the scheduler says so, so one seed
// always replays the same run.

// simRecord is one offset of a partition log.
type simRecord struct {
	stream.Record
	control bool // a transaction marker: takes an offset, carries no data
}

// simWorld is the whole simulated cluster.
type simWorld struct {
	rng   *rand.Rand
	now   time.Time
	logs  map[string][][]simRecord // topic → partition → records
	group *simGroup
	// pending holds records produced outside transactions and not yet
	// acknowledged, in produce order.
	pending []*simProduce
	// down holds partitions that cannot be fetched from or produced to
	// until the time given (a leader election, a broker bounce).
	down map[stream.TopicPartition]time.Time
	// missing are topics that do not exist: every produce to them fails.
	missing map[string]bool
	// txnIDs maps a transactional id to the epoch of its latest producer:
	// a session of an older epoch is fenced.
	txnIDs map[string]int
	// faults are the chances of the faults the scheduler injects.
	faults simFaults
	// violations collects invariant failures seen while running.
	violations []string
	// commitHook is told of every successful offset commit, to check that
	// what it covers is durable.
	commitHook func(tp stream.TopicPartition, offset int64)
	// logf adds to the run's trace.
	logf func(format string, args ...any)
}

// simFaults are per-call chances of failure, drawn from the seed.
type simFaults struct {
	produceFail float64 // a produce acknowledged with an error
	commitFail  float64 // an offset commit refused
	readFail    float64 // a restore read failing
	listFail    float64 // a ListOffsets failing
	txnAbort    float64 // a transaction the brokers abort
}

// simProduce is one produced record awaiting its acknowledgement.
type simProduce struct {
	rec  stream.Record
	done func(stream.Record, error)
	// from names the producer, so that a crash loses what it had in flight.
	from *simNode
}

func newSimWorld(seed uint64, start time.Time) *simWorld {
	w := &simWorld{
		rng:     rand.New(rand.NewPCG(seed, 0x73696d)), // "sim"
		now:     start,
		logs:    make(map[string][][]simRecord),
		down:    make(map[stream.TopicPartition]time.Time),
		missing: make(map[string]bool),
		txnIDs:  make(map[string]int),
	}
	w.group = newSimGroup(w)
	return w
}

func (w *simWorld) clock() time.Time { return w.now }

func (w *simWorld) createTopic(name string, partitions int) {
	if _, ok := w.logs[name]; !ok {
		w.logs[name] = make([][]simRecord, partitions)
	}
}

func (w *simWorld) partitions(topic string) int { return len(w.logs[topic]) }

func (w *simWorld) log(tp stream.TopicPartition) []simRecord {
	parts := w.logs[tp.Topic]
	if int(tp.Partition) >= len(parts) || tp.Partition < 0 {
		return nil
	}
	return parts[tp.Partition]
}

// appendRecord writes r at the end of its partition and returns it with its
// offset.
func (w *simWorld) appendRecord(r stream.Record, control bool) stream.Record {
	parts := w.logs[r.Topic]
	r.Offset = int64(len(parts[r.Partition]))
	if r.Timestamp.IsZero() {
		r.Timestamp = w.now
	}
	parts[r.Partition] = append(parts[r.Partition], simRecord{Record: r, control: control})
	return r
}

func (w *simWorld) available(tp stream.TopicPartition) bool {
	until, ok := w.down[tp]
	if ok && !w.now.Before(until) {
		delete(w.down, tp)
		return true
	}
	return !ok
}

// place sets the partition of a record produced by key, as franz-go's
// default partitioner does for keyed records (murmur2, Kafka's).
func (w *simWorld) place(r stream.Record, manual []string) stream.Record {
	if slices.Contains(manual, r.Topic) {
		return r
	}
	n := w.partitions(r.Topic)
	if n == 0 {
		return r
	}
	if len(r.Key) > 0 {
		r.Partition = stream.KeyPartition(r.Key, n)
	} else {
		r.Partition = int32(w.rng.IntN(n))
	}
	return r
}

// ack settles pending produces: each is appended or fails. Only those of
// from when it is not nil; all of them when all, else a random share. A
// producer's records to one partition settle in order (the idempotent
// producer keeps them so), and none while the partition is down.
func (w *simWorld) ack(from *simNode, all bool) {
	type lane struct {
		node *simNode
		tp   stream.TopicPartition
	}
	held := map[lane]bool{}
	keep := w.pending[:0]
	for _, p := range w.pending {
		l := lane{p.from, stream.TopicPartition{Topic: p.rec.Topic, Partition: p.rec.Partition}}
		chosen := (from == nil || p.from == from) && (all || w.rng.IntN(2) == 0)
		if !chosen || held[l] || !w.available(l.tp) {
			held[l] = true
			keep = append(keep, p)
			continue
		}
		w.settle(p)
	}
	clear(w.pending[len(keep):])
	w.pending = keep
}

func (w *simWorld) settle(p *simProduce) {
	switch {
	case w.missing[p.rec.Topic]:
		p.done(p.rec, fmt.Errorf("produce to topic %s: %w", p.rec.Topic, errSimUnknownTopic))
	case w.rng.Float64() < w.faults.produceFail:
		p.done(p.rec, fmt.Errorf("produce to topic %s: %w", p.rec.Topic, errSimProduce))
	default:
		p.done(w.appendRecord(p.rec, false), nil)
	}
}

// crash loses what node had in flight, but for a random prefix of each
// partition's records, which had reached the brokers.
func (w *simWorld) crash(node *simNode) {
	landed := map[stream.TopicPartition]bool{}
	lost := map[stream.TopicPartition]bool{}
	keep := w.pending[:0]
	for _, p := range w.pending {
		if p.from != node {
			keep = append(keep, p)
			continue
		}
		tp := stream.TopicPartition{Topic: p.rec.Topic, Partition: p.rec.Partition}
		if !lost[tp] && !w.missing[p.rec.Topic] && (landed[tp] || w.rng.IntN(3) == 0) {
			landed[tp] = true
			w.appendRecord(p.rec, false) // acknowledged to nobody
			continue
		}
		lost[tp] = true
	}
	w.pending = keep
}

var (
	errSimUnknownTopic = errors.New("UNKNOWN_TOPIC_OR_PARTITION (simulated)")
	errSimProduce      = errors.New("NOT_ENOUGH_REPLICAS (simulated)")
	errSimCommit       = errors.New("REBALANCE_IN_PROGRESS (simulated)")
	errSimFenced       = errors.New("PRODUCER_FENCED (simulated)")
	errSimRead         = errors.New("fetch failed (simulated)")
	errSimList         = errors.New("list offsets failed (simulated)")
)

// end is the offset after the last record of tp.
func (w *simWorld) end(tp stream.TopicPartition) int64 { return int64(len(w.log(tp))) }

// simReader is logReader over the world's logs.
type simReader struct{ w *simWorld }

func (r simReader) fail() error {
	if r.w.rng.Float64() < r.w.faults.readFail {
		return errSimRead
	}
	return nil
}

func (r simReader) ReadPartition(ctx context.Context, tp stream.TopicPartition, from int64, _ bool, fn func(stream.Record) error) error {
	r.w.checkBounded(ctx, "read partition", true)
	if err := r.fail(); err != nil {
		return fmt.Errorf("read topic %s partition %d: %w", tp.Topic, tp.Partition, err)
	}
	log := r.w.log(tp)
	for _, rec := range log[max(from, 0):] {
		if rec.control {
			continue
		}
		if err := fn(rec.Record); err != nil {
			return err
		}
	}
	return nil
}

func (r simReader) ReadTail(ctx context.Context, tp stream.TopicPartition, n int64, committed bool, fn func(stream.Record) error) error {
	return r.ReadPartition(ctx, tp, r.w.end(tp)-n, committed, fn)
}

func (r simReader) ReadAll(ctx context.Context, topic string, committed bool, fn func(stream.Record) error) error {
	for p := range r.w.partitions(topic) {
		if err := r.ReadPartition(ctx, stream.TopicPartition{Topic: topic, Partition: int32(p)}, 0, committed, fn); err != nil {
			return err
		}
	}
	return nil
}

func (r simReader) PartitionCounts(_ context.Context, topics ...string) (map[string]int32, error) {
	out := make(map[string]int32, len(topics))
	for _, t := range topics {
		n, ok := r.w.logs[t]
		if !ok {
			return nil, fmt.Errorf("topic %s: not found", t)
		}
		out[t] = int32(len(n))
	}
	return out, nil
}

func (r simReader) EnsureTopics(_ context.Context, specs map[string]stream.TopicSpec) error {
	for _, name := range slices.Sorted(maps.Keys(specs)) {
		r.w.createTopic(name, int(max(specs[name].Partitions, 1)))
	}
	return nil
}

// checkBounded records a violation when a call that may wait on the
// brokers is made without a way to end it: a context that no shutdown can
// cancel, or, when deadline, one without a deadline.
func (w *simWorld) checkBounded(ctx context.Context, what string, deadline bool) {
	if ctx.Done() == nil {
		w.violate("%s with a context that nothing cancels: a broker outage blocks it for ever", what)
		return
	}
	if _, ok := ctx.Deadline(); deadline && !ok {
		w.violate("%s without a deadline: a broker outage blocks it until shutdown cancels it", what)
	}
}

func (w *simWorld) violate(format string, args ...any) {
	msg := fmt.Sprintf("at %s: ", w.now.Format(time.RFC3339Nano)) + fmt.Sprintf(format, args...)
	if !slices.Contains(w.violations, msg) && len(w.violations) < 20 {
		w.violations = append(w.violations, msg)
	}
}
