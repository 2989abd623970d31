package detector

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strconv"
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
	lastMarker  time.Time
	lastListed  time.Time // of the positions of unpositioned partitions
	route       RouteOutput
	src, rep    []stream.Record
}

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
	router, err := NewRouter(s.cfg.Live, sc.RepartitionTopic, internal[sc.RepartitionTopic], counts)
	if err != nil {
		return nil, err
	}
	return &scaled{s: s, router: router, shards: make(map[int32]*Shard), repartition: sc.RepartitionTopic, state: sc.StateTopic}, nil
}

func (p *scaled) base() *shared { return p.router.shared }

// process routes input messages and applies the repartition records to
// their shards.
func (p *scaled) process(b stream.Batch, out *Output) {
	p.src, p.rep = p.src[:0], p.rep[:0]
	for _, r := range b.Records {
		if r.Topic == p.repartition {
			p.rep = append(p.rep, r)
		} else {
			p.src = append(p.src, r)
		}
	}
	p.route.Reset()
	p.router.Route(p.src, b.Ends, &p.route)
	for _, r := range p.route.Records {
		p.s.produce(p.s.ctx, r)
	}
	out.DeadLetters = append(out.DeadLetters, p.route.DeadLetters...)
	for _, r := range p.rep {
		if sh := p.shards[r.Partition]; sh != nil {
			sh.Apply(r, out)
		}
	}
}

// tick sends progress markers, after the sign-ins they vouch for. Input
// partitions that delivered nothing yet are looked up on the broker at
// most every positionsEvery: an empty one must not hold every shard back.
func (p *scaled) tick(*Output) {
	now := p.router.cfg.Now()
	if now.Sub(p.lastMarker) < p.s.cfg.Scale.MarkerInterval {
		return
	}
	if tps := p.router.Unpositioned(); len(tps) > 0 && now.Sub(p.lastListed) >= positionsEvery {
		p.lastListed = now
		ctx, cancel := context.WithTimeout(p.s.ctx, positionsEvery)
		starts, err := p.s.session.Starts(ctx, tps)
		var ends map[stream.TopicPartition]int64
		if err == nil {
			ends, err = p.s.session.Ends(ctx, tps)
		}
		cancel()
		if err != nil {
			p.s.log.Warn("positions of idle input partitions unknown; they hold windows open until they deliver", "error", err)
		}
		for tp, next := range starts {
			if end, ok := ends[tp]; ok {
				p.router.Position(tp, next, end)
			}
		}
	}
	p.lastMarker = now
	for _, r := range p.router.Markers() {
		p.s.produce(p.s.ctx, r)
	}
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
	return commit{offsets: only(offsets, tps), states: states}
}

func (p *scaled) assign(ctx context.Context, tps []stream.TopicPartition) error {
	var shards []int32
	for _, tp := range tps {
		if tp.Topic == p.repartition {
			shards = append(shards, tp.Partition)
		} else {
			p.router.Assign(tp)
		}
	}
	return p.restoreAll(ctx, shards)
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

// rebuild restores every shard owned from what is committed.
func (p *scaled) rebuild(ctx context.Context) error {
	return p.restoreAll(ctx, slices.Sorted(maps.Keys(p.shards)))
}

// restoreAll rebuilds shards in parallel, one per core: each reads its own
// partitions and replays them into a shard of its own, with an emitter and
// counts of its own (what a rebuild emits is discarded), and joins the
// detector's when done.
func (p *scaled) restoreAll(ctx context.Context, partitions []int32) error {
	rebuilt := make([]*Shard, len(partitions))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, part := range partitions {
		g.Go(func() error {
			sh, err := p.restore(ctx, part)
			rebuilt[i] = sh
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, sh := range rebuilt {
		sh.join(p.router.shared)
		p.shards[sh.Partition()] = sh
	}
	return nil
}

// positionsEvery spaces the broker lookups of input partitions that
// delivered nothing yet.
const positionsEvery = 500 * time.Millisecond

// errRestored stops a rebuild's read once it reached the state's end.
var errRestored = errors.New("restored")

// restore rebuilds the shard of a partition from its latest state record
// and the repartition records since the state's From, or starts it empty.
// The shard has a detector of its own until it joins the service's.
func (p *scaled) restore(ctx context.Context, partition int32) (*Shard, error) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.s.cfg.ShutdownTimeout)
	defer cancel()
	kafka, committed := p.s.kafka.reader, p.s.cfg.ExactlyOnce
	own := *p.router.shared
	own.emit, own.stats = NewEmitter(own.cfg.Rule, own.cfg.Now), Stats{}
	sh := newShard(&own, stream.TopicPartition{Topic: p.repartition, Partition: partition})
	var st *ShardState
	err := kafka.ReadPartition(ctx, stream.TopicPartition{Topic: p.state, Partition: partition}, -1, committed, func(r stream.Record) error {
		v, err := DecodeShardState(r.Value)
		if err != nil || v.Partition != partition {
			p.s.log.Warn("shard state record skipped", "partition", partition, "offset", r.Offset, "error", err)
			return nil
		}
		st = &v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read state of shard %d: %w", partition, err)
	}
	if st == nil {
		p.s.log.Info("shard started", "partition", partition)
		return sh, nil
	}
	sh.Restore(*st)
	var discard Output
	replayed := 0
	err = kafka.ReadPartition(ctx, stream.TopicPartition{Topic: p.repartition, Partition: partition}, st.From, committed, func(r stream.Record) error {
		if r.Offset >= st.Through {
			return errRestored
		}
		sh.Apply(r, &discard)
		discard.Reset()
		replayed++
		if r.Offset+1 >= st.Through {
			return errRestored
		}
		return nil
	})
	if err != nil && !errors.Is(err, errRestored) {
		return nil, fmt.Errorf("rebuild shard %d: %w", partition, err)
	}
	sh.Restored(st.Through)
	p.s.log.Info("shard rebuilt", "partition", partition, "from", st.From, "through", st.Through,
		"records", replayed, "windows", sh.OpenWindows(), "took", time.Since(began))
	return sh, nil
}

func (p *scaled) observe(m *Metrics) {
	if m == nil {
		return
	}
	open := 0
	var watermark time.Time
	for _, sh := range p.shards {
		open += sh.OpenWindows()
		if wm := sh.Watermark(); watermark.IsZero() || wm.Before(watermark) {
			watermark = wm
		}
	}
	progress := make(map[stream.TopicPartition]time.Time, len(p.router.sources))
	for tp, src := range p.router.sources {
		progress[tp] = src.maxEvent
	}
	m.update(p.router.Stats(), open, watermark, progress)
}
