package detector

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ropcwatch/ropcwatch/stream"
)

// scaled runs a Router and the Shards of the repartition partitions this
// instance owns. Input partitions and shards are assigned by the same
// consumer group, so instances share both kinds of work.
type scaled struct {
	s           *service
	router      *Router
	shards      map[int32]*Shard
	repartition string
	state       string
	route       RouteOutput
	src, rep    []stream.Record
	// markersInFlight counts markers not acknowledged yet: no new round
	// goes out before the last one landed, so an outage does not fill the
	// producer's buffer with markers.
	markersInFlight atomic.Int64
	// vouched is, at least once, the router's state as of the latest
	// commit whose output is all acknowledged: what markers may claim.
	vouched atomic.Pointer[map[stream.TopicPartition]inputPartition]
}

// stateTail is how many of the last offsets of a state partition a
// restore reads: the latest state record is among them, whatever the
// partition's history (transaction markers take offsets too, and a
// member that lost its partitions may have written a few stale ones).
const stateTail = 32

func newScaled(ctx context.Context, s *service) (*scaled, error) {
	sc, kafka := s.cfg.Scale, s.kafka.reader
	counts, err := kafka.PartitionCounts(ctx, s.cfg.Consumer.Topics...)
	if err != nil {
		return nil, fmt.Errorf("scale out: input topics: %w", err)
	}
	if sc.CreateTopics {
		n := sc.Partitions
		if n == 0 {
			for _, c := range counts {
				n = max(n, c)
			}
		}
		// The repartition topic keeps what open and retained windows need
		// to be rebuilt, twice over.
		live := s.cfg.Live.withDefaults()
		keep := 2 * (live.Rule.QueryPeriod + live.Lateness + live.Retention)
		err := kafka.EnsureTopics(ctx, map[string]stream.TopicSpec{
			sc.RepartitionTopic: {Partitions: n, Configs: map[string]string{"retention.ms": strconv.FormatInt(keep.Milliseconds(), 10)}},
			sc.StateTopic:       {Partitions: n, Configs: map[string]string{"cleanup.policy": "compact"}},
		})
		if err != nil {
			return nil, fmt.Errorf("scale out: internal topics: %w", err)
		}
	}
	internal, err := kafka.PartitionCounts(ctx, sc.RepartitionTopic, sc.StateTopic)
	for wait := time.Now().Add(15 * time.Second); err != nil && sc.CreateTopics && time.Now().Before(wait) && ctx.Err() == nil; {
		// Just created: the brokers learn of the topics in a moment.
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
		}
		internal, err = kafka.PartitionCounts(ctx, sc.RepartitionTopic, sc.StateTopic)
	}
	if err != nil {
		return nil, fmt.Errorf("scale out: internal topics (create them, or allow this detector to): %w", err)
	}
	if internal[sc.StateTopic] < internal[sc.RepartitionTopic] {
		return nil, fmt.Errorf("scale out: state topic %s has %d partitions, fewer than the %d of %s",
			sc.StateTopic, internal[sc.StateTopic], internal[sc.RepartitionTopic], sc.RepartitionTopic)
	}
	router, err := NewRouter(s.cfg.Live, sc.RepartitionTopic, internal[sc.RepartitionTopic], counts, sc.MarkerInterval)
	if err != nil {
		return nil, err
	}
	if !s.cfg.ExactlyOnce {
		// A marker produced after a routed sign-in may land though the
		// sign-in failed to: markers claim only acknowledged routing.
		// (In a transaction both commit or neither does.)
		router.vouchAcknowledged()
	}
	return &scaled{s: s, router: router, shards: make(map[int32]*Shard), repartition: sc.RepartitionTopic, state: sc.StateTopic}, nil
}

func (p *scaled) base() *shared { return p.router.shared }

// process routes input messages and applies the repartition records to
// their shards. A repartition record of a partition without a shard is an
// error: its effect would be lost while its offset is committed.
func (p *scaled) process(b stream.Batch, out *Output) error {
	p.src, p.rep = p.src[:0], p.rep[:0]
	for _, r := range b.Records {
		if r.Topic == p.repartition {
			p.rep = append(p.rep, r)
		} else {
			p.src = append(p.src, r)
		}
	}
	p.route.Reset()
	p.router.Route(p.src, &p.route)
	p.router.Positions(b.Next, b.Ends)
	out.Internal = append(out.Internal, p.route.Records...)
	out.DeadLetters = append(out.DeadLetters, p.route.DeadLetters...)
	for _, r := range p.rep {
		sh := p.shards[r.Partition]
		if sh == nil {
			return fmt.Errorf("record of %s partition %d at offset %d, which has no shard here", r.Topic, r.Partition, r.Offset)
		}
		sh.Apply(r, out)
	}
	return nil
}

// tick sends progress markers, after the sign-ins they vouch for (one
// producer, so a partition gets them in order).
func (p *scaled) tick(out *Output) {
	if p.markersInFlight.Load() > 0 {
		return
	}
	if v := p.vouched.Load(); v != nil {
		p.router.vouch(*v)
	}
	for _, r := range p.router.Markers() {
		p.markersInFlight.Add(1)
		out.Markers = append(out.Markers, r)
	}
}

// markerAcked settles one marker.
func (p *scaled) markerAcked() { p.markersInFlight.Add(-1) }

func (p *scaled) inputs() (all, unpositioned []stream.TopicPartition) {
	return p.router.Sources(), p.router.Unpositioned()
}

func (p *scaled) listed(l listedEnds) {
	for tp, next := range l.starts {
		p.router.Position(tp, next)
	}
	p.router.Ends(l.ends, l.at)
}

func (p *scaled) commit(tps []stream.TopicPartition) commit {
	offsets := p.router.Committable()
	var states []stream.Record
	for part, sh := range p.shards {
		tp := stream.TopicPartition{Topic: p.repartition, Partition: part}
		if tps != nil && !slices.Contains(tps, tp) {
			continue
		}
		if r, ok := sh.StateRecord(p.state); ok {
			states = append(states, r)
			offsets[tp] = sh.next
		}
	}
	snapshot := p.router.snapshot()
	return commit{offsets: only(offsets, tps), states: states, flushed: func() { p.vouched.Store(&snapshot) }}
}

// committed notes that a transaction committed: an abort goes back to here.
func (p *scaled) committed() { p.router.Committed() }

func (p *scaled) assign(ctx context.Context, tps []stream.TopicPartition, out *Output) error {
	var shards []int32
	for _, tp := range tps {
		if tp.Topic == p.repartition {
			shards = append(shards, tp.Partition)
		} else {
			p.router.Assign(tp)
		}
	}
	return p.restoreAll(ctx, shards, out)
}

func (p *scaled) revoke(tps []stream.TopicPartition) {
	for _, tp := range tps {
		if tp.Topic == p.repartition {
			delete(p.shards, tp.Partition)
		} else {
			p.router.Revoke(tp)
		}
	}
}

// rebuild goes back to what is committed after a transaction aborted: the
// router to its state at the last commit, every shard owned rebuilt.
func (p *scaled) rebuild(ctx context.Context, out *Output) error {
	p.router.Aborted()
	return p.restoreAll(ctx, slices.Sorted(maps.Keys(p.shards)), out)
}

// restoreAll rebuilds shards in parallel, one per core: each reads its own
// partitions and replays them into a shard of its own, with an emitter and
// counts of its own, and joins the detector's when done. What the rebuilt
// shards emit for records their previous owner processed after its last
// state record goes to out.
func (p *scaled) restoreAll(ctx context.Context, partitions []int32, out *Output) error {
	rebuilt := make([]*Shard, len(partitions))
	emitted := make([]Output, len(partitions))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(cmp0(p.s.kafka.restoreWorkers, runtime.GOMAXPROCS(0)))
	for i, part := range partitions {
		g.Go(func() error {
			sh, err := p.restore(ctx, part, &emitted[i])
			rebuilt[i] = sh
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, sh := range rebuilt {
		sh.join(p.router.shared)
		p.shards[sh.Partition()] = sh
		out.append(&emitted[i])
	}
	return nil
}

func cmp0(v, otherwise int) int {
	if v > 0 {
		return v
	}
	return otherwise
}

// errRestored stops a rebuild's read once it reached its end.
var errRestored = errors.New("restored")

// restore rebuilds the shard of a partition from its latest state record
// and the repartition records since the state's From; records after the
// state's Through up to the group's committed offset (a previous owner
// that lost the partition may have committed past its last state) are
// processed as new, their output going to out. The shard has a detector of
// its own until it joins the service's.
func (p *scaled) restore(ctx context.Context, partition int32, out *Output) (*Shard, error) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.s.cfg.ShutdownTimeout)
	defer cancel()
	reader, committed := p.s.kafka.reader, p.s.cfg.ExactlyOnce
	own := *p.router.shared
	own.emit, own.stats = NewEmitter(own.cfg.Rule, own.cfg.Now), Stats{}
	tp := stream.TopicPartition{Topic: p.repartition, Partition: partition}
	sh := newShard(&own, tp, p.router.shards, p.router.heartbeat)
	var st *ShardState
	err := reader.ReadTail(ctx, stream.TopicPartition{Topic: p.state, Partition: partition}, stateTail, committed, func(r stream.Record) error {
		v, err := DecodeShardState(r.Value)
		if err != nil || v.Partition != partition {
			p.s.log.Warn("shard state record skipped", "partition", partition, "offset", r.Offset, "error", err)
			return nil
		}
		if st == nil || v.Through >= st.Through {
			st = &v
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read state of shard %d: %w", partition, err)
	}
	starts, err := p.s.session.Starts(ctx, []stream.TopicPartition{tp})
	if err != nil {
		return nil, fmt.Errorf("committed offset of shard %d: %w", partition, err)
	}
	resume := starts[tp]
	if st == nil {
		if resume <= 0 {
			p.s.log.Info("shard started", "partition", partition)
			return sh, nil
		}
		// Offsets are committed but no state is left (the state topic was
		// emptied): rebuild from what the partition retains.
		p.s.log.Warn("shard state missing; rebuilding from the start of the partition", "partition", partition, "committed", resume)
		st = &ShardState{Partition: partition, Through: resume}
	}
	var refused map[int64]bool
	if st.Refusals > 0 {
		records, err := p.refusals(ctx, tp, st.From, st.Through)
		if err != nil {
			return nil, err
		}
		refused = st.Refused(records)
	}
	sh.Restore(*st, refused)
	var discard Output
	replayed, reprocessed := 0, 0
	end := max(st.Through, resume)
	if end > st.From {
		err = reader.ReadPartition(ctx, tp, st.From, committed, func(r stream.Record) error {
			if r.Offset >= end {
				return errRestored
			}
			if r.Offset < st.Through {
				sh.Apply(r, &discard)
				discard.Reset()
				replayed++
			} else {
				sh.Restored(st.Through)
				sh.Apply(r, out)
				reprocessed++
			}
			if r.Offset+1 >= end {
				return errRestored
			}
			return nil
		})
		if err != nil && !errors.Is(err, errRestored) {
			return nil, fmt.Errorf("rebuild shard %d: %w", partition, err)
		}
	}
	sh.Restored(end)
	p.s.log.Info("shard rebuilt", "partition", partition, "from", st.From, "through", st.Through, "committed", resume,
		"records", replayed, "reprocessed", reprocessed, "windows", sh.OpenWindows(), "took", time.Since(began))
	return sh, nil
}

// refusals reads the refusal records from from to the partition's end: a
// refusal lands after the sign-in it refuses, perhaps after through.
func (p *scaled) refusals(ctx context.Context, tp stream.TopicPartition, from, through int64) ([]refusal, error) {
	var refused []refusal
	err := p.s.kafka.reader.ReadPartition(ctx, tp, from, p.s.cfg.ExactlyOnce, func(r stream.Record) error {
		if kindOf(r) == KindRefusal {
			if off, since, ok := refusedOffset(r); ok {
				refused = append(refused, refusal{Offset: off, Since: since})
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read refusals of shard %d: %w", tp.Partition, err)
	}
	return refused, nil
}

func (p *scaled) observe(m *Metrics) {
	if m == nil {
		return
	}
	open := 0
	var used int64
	var watermark time.Time
	for _, sh := range p.shards {
		open += sh.OpenWindows()
		used += sh.MemoryUsed()
		if wm := sh.Watermark(); watermark.IsZero() || wm.Before(watermark) {
			watermark = wm
		}
	}
	m.update(p.router.Stats(), open, used, watermark, p.router.sources.eventTimes())
}
