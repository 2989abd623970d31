package detector

import (
	"context"
	"fmt"
	"slices"

	"github.com/ropcwatch/ropcwatch/stream"
)

// simNode is one detector process of TestSimulation: a service built on the
// simulated broker. Killing it drops the service (its memory); the logs
// stay.
type simNode struct {
	w        *simWorld
	name     string
	instance string // static membership id, "" for dynamic
	svc      *service
	cancel   context.CancelFunc // ends svc's context: SIGTERM
	member   *simMember
	hooks    stream.PartitionHooks
	manual   []string // topics the producer places by Record.Partition
	txnID    string
	epoch    int // of txnID, when this process started
	// txn is the open transaction; nil outside one.
	txn *simTxn
	// pendingAssign is what a static member's restarted process is told it
	// owns when it first polls.
	pendingAssign []stream.TopicPartition
	// stopped: a clean shutdown ran.
	stopped bool
}

type simTxn struct {
	records []stream.Record
	revoked bool // the group took partitions away since Begin
	// polled holds, as franz-go's uncommitted offsets do, where polling
	// left each partition polled in the transaction: End commits them
	// with the member's generation, which fences a zombie.
	polled map[stream.TopicPartition]int64
}

func (n *simNode) kafka() kafka {
	return kafka{
		join: func(c stream.ConsumerConfig, h stream.PartitionHooks) (groupSession, error) {
			n.hooks = h
			if t := c.Transactions; t != nil {
				n.txnID = t.ID
				n.w.txnIDs[t.ID]++ // fences the previous incarnation
				n.epoch = n.w.txnIDs[t.ID]
				n.manual = t.Producer.ManualTopics
			}
			n.member = n.w.group.join(n, c.Topics, c.InstanceID)
			return simSession{n}, nil
		},
		producer: func(c stream.ProducerConfig) (recordProducer, error) {
			n.manual = c.ManualTopics
			return simProducer{n}, nil
		},
		reader:         simReader{n.w},
		restoreWorkers: 1, // the simulated broker runs on the scheduler's goroutine
	}
}

// ctx is the context of the process's hooks.
func (n *simNode) ctx() context.Context { return n.svc.ctx }

func (n *simNode) assign(tps []stream.TopicPartition) {
	for _, tp := range tps {
		n.member.assigned[tp] = true
		n.member.position[tp] = n.w.group.start(tp)
	}
	hooks(n.ctx(), tps, n.hooks.Assigned)
}

func (n *simNode) revoke(tps []stream.TopicPartition) {
	if n.txn != nil {
		n.txn.revoked = true
	}
	hooks(n.ctx(), tps, n.hooks.Revoked)
}

// simSession is the groupSession of a simNode.
type simSession struct{ n *simNode }

func (s simSession) Poll(ctx context.Context) (stream.Batch, error) {
	n, w := s.n, s.n.w
	if len(n.pendingAssign) > 0 {
		tps := n.pendingAssign
		n.pendingAssign = nil
		sortTPs(tps)
		n.assign(tps)
	}
	b := stream.Batch{Next: map[stream.TopicPartition]int64{}, Ends: map[stream.TopicPartition]int64{}}
	tps := make([]stream.TopicPartition, 0, len(n.member.assigned))
	for tp := range n.member.assigned {
		tps = append(tps, tp)
	}
	sortTPs(tps)
	w.rng.Shuffle(len(tps), func(i, j int) { tps[i], tps[j] = tps[j], tps[i] })
	budget := 1 + w.rng.IntN(200)
	for _, tp := range tps {
		if !w.available(tp) {
			continue
		}
		log := w.log(tp)
		pos := n.member.position[tp]
		took := false
		for pos < int64(len(log)) && budget > 0 {
			r := log[pos]
			pos++
			budget--
			took = true
			if !r.control {
				b.Records = append(b.Records, r.Record)
			}
		}
		n.member.position[tp] = pos
		if took {
			b.Next[tp] = pos
			if n.txn != nil {
				n.txn.polled[tp] = pos
			}
		}
		b.Ends[tp] = int64(len(log))
	}
	// Records come in partition order within a partition, partitions in
	// any order: as franz-go returns fetches.
	return b, nil
}

func (s simSession) AllowRebalance() {}

func (s simSession) Commit(ctx context.Context, offsets map[stream.TopicPartition]int64) error {
	n, w := s.n, s.n.w
	w.checkBounded(ctx, "commit", true)
	for tp := range offsets {
		if !w.group.canCommit(n.member, tp) {
			return fmt.Errorf("commit offset for topic %s partition %d: ILLEGAL_GENERATION (simulated)", tp.Topic, tp.Partition)
		}
	}
	if w.rng.Float64() < w.faults.commitFail {
		return fmt.Errorf("commit offsets: %w", errSimCommit)
	}
	for _, tp := range sortedKeys(offsets) {
		w.group.commit(tp, offsets[tp])
	}
	return nil
}

func (s simSession) Begin() error {
	if s.n.txn != nil {
		return fmt.Errorf("begin transaction: already in one")
	}
	s.n.txn = &simTxn{polled: map[stream.TopicPartition]int64{}}
	return nil
}

// End commits or aborts the open transaction as GroupTransactSession does:
// it aborts when partitions were revoked since Begin, and after an abort
// consumption rewinds to the committed offsets.
func (s simSession) End(ctx context.Context, commit bool) (bool, error) {
	n, w := s.n, s.n.w
	w.checkBounded(ctx, "end transaction", true)
	txn := n.txn
	n.txn = nil
	if txn == nil {
		return false, fmt.Errorf("end transaction: none open")
	}
	if n.epoch < w.txnIDs[n.txnID] {
		return false, fmt.Errorf("end transaction: %w", errSimFenced)
	}
	offsets := txn.polled
	owned := true
	for tp := range offsets {
		owned = owned && w.group.canCommit(n.member, tp)
	}
	missing := false
	for _, r := range txn.records {
		missing = missing || w.missing[r.Topic]
	}
	if !commit || txn.revoked || !owned || missing || w.rng.Float64() < w.faults.txnAbort {
		for tp := range n.member.position {
			n.member.position[tp] = w.group.start(tp)
		}
		if missing {
			return false, fmt.Errorf("end transaction: %w", errSimUnknownTopic)
		}
		return false, nil
	}
	touched := map[stream.TopicPartition]bool{}
	for _, r := range txn.records {
		r.Headers = append(slices.Clone(r.Headers), stream.Header{Key: "sim-producer", Value: []byte(n.name + "/" + n.member.id)})
		w.appendRecord(r, false)
		touched[stream.TopicPartition{Topic: r.Topic, Partition: r.Partition}] = true
	}
	for _, tp := range sortedKeys(touched) {
		w.appendRecord(stream.Record{Topic: tp.Topic, Partition: tp.Partition}, true) // the commit marker
	}
	for _, tp := range sortedKeys(offsets) {
		w.group.commit(tp, offsets[tp])
	}
	return true, nil
}

func (s simSession) Produce(ctx context.Context, r stream.Record, done func(stream.Record, error)) {
	n, w := s.n, s.n.w
	w.checkBounded(ctx, "produce", false)
	r = w.place(r, n.manual)
	if n.txn == nil {
		done(r, fmt.Errorf("produce to topic %s: not in a transaction", r.Topic))
		return
	}
	n.txn.records = append(n.txn.records, r)
	done(r, nil)
}

func (s simSession) Flush(ctx context.Context) error {
	s.n.w.checkBounded(ctx, "flush", true)
	return nil
}

func (s simSession) Ends(ctx context.Context, tps []stream.TopicPartition) (map[stream.TopicPartition]int64, error) {
	w := s.n.w
	return s.list(ctx, "list end offsets", tps, func(tp stream.TopicPartition) (int64, bool) {
		return w.end(tp), w.available(tp)
	})
}

func (s simSession) Starts(ctx context.Context, tps []stream.TopicPartition) (map[stream.TopicPartition]int64, error) {
	w := s.n.w
	return s.list(ctx, "list start offsets", tps, func(tp stream.TopicPartition) (int64, bool) {
		return w.group.start(tp), true
	})
}

// list answers a listing of offsets, one per partition that offset
// answers for, or fails as the faults say.
func (s simSession) list(ctx context.Context, what string, tps []stream.TopicPartition, offset func(stream.TopicPartition) (int64, bool)) (map[stream.TopicPartition]int64, error) {
	w := s.n.w
	w.checkBounded(ctx, what, true)
	if w.rng.Float64() < w.faults.listFail {
		return nil, errSimList
	}
	out := map[stream.TopicPartition]int64{}
	for _, tp := range tps {
		if off, ok := offset(tp); ok {
			out[tp] = off
		}
	}
	return out, nil
}

func (s simSession) Close(ctx context.Context) error {
	s.n.w.checkBounded(ctx, "leave group", true)
	if !s.n.member.kicked {
		s.n.w.group.leave(s.n.member)
	}
	return nil
}

// simProducer is the recordProducer of a simNode.
type simProducer struct{ n *simNode }

func (p simProducer) Produce(ctx context.Context, r stream.Record, done func(stream.Record, error)) {
	w := p.n.w
	w.checkBounded(ctx, "produce", false)
	w.pending = append(w.pending, &simProduce{rec: w.place(r, p.n.manual), done: done, from: p.n})
}

// Flush settles every record the process has in flight; records of a
// partition that is down stay, and Flush returns as if its deadline passed.
func (p simProducer) Flush(ctx context.Context) error {
	w := p.n.w
	w.checkBounded(ctx, "flush", true)
	w.ack(p.n, true)
	if slices.ContainsFunc(w.pending, func(x *simProduce) bool { return x.from == p.n }) {
		return context.DeadlineExceeded
	}
	return nil
}

func (p simProducer) Close() {
	w := p.n.w
	keep := w.pending[:0]
	for _, x := range w.pending {
		if x.from == p.n {
			x.done(x.rec, fmt.Errorf("produce to topic %s: client closed", x.rec.Topic))
			continue
		}
		keep = append(keep, x)
	}
	w.pending = keep
}
