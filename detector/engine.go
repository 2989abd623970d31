package detector

import (
	"context"
	"slices"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/window"
)

// Engine is the streaming detector of one instance, or of several when
// the input is keyed by user: the windows and alert lifecycle of SPEC
// section 4, closed by event-time progress (section 3), and what offsets
// are safe to commit. With LiveConfig.KeyedInput each input partition has
// windows of their own, closed by its own progress: a partition that lags
// holds back only its users. Without it one set of windows holds every
// partition's sign-ins and closes by their least progress. A window pins,
// per partition, the first offset that contributed to it, so a partition
// that leaves (a rebalance, a crash) lets go of the windows it contributed
// to and its next owner rebuilds those still open or retained from the
// committed offset; one that had closed and gone may be raised again from
// its later sign-ins, since the watermark starts afresh. It does no I/O and one goroutine owns it. Router and
// Shard scale out unkeyed input.
type Engine struct {
	*shared
	parts inputs
	// all holds every partition's windows without KeyedInput; with it,
	// keyed holds each partition's.
	all      *lifecycle
	keyed    map[stream.TopicPartition]*lifecycle
	budget   *budget // all partitions together
	scanning scanning
	srcs     []sourceProgress // advance's, reused
}

// NewEngine returns an engine; cfg must be valid.
func NewEngine(cfg LiveConfig) (*Engine, error) {
	sh, err := newShared(cfg)
	if err != nil {
		return nil, err
	}
	sh.emit.Incidents().SetLimit(incidentLimit(sh.cfg.MemoryBudget))
	e := &Engine{shared: sh, parts: inputs{}, keyed: map[stream.TopicPartition]*lifecycle{}, budget: &budget{limit: sh.cfg.MemoryBudget}}
	if !sh.cfg.KeyedInput {
		e.all = e.newLifecycle()
	}
	return e, nil
}

func (e *Engine) newLifecycle() *lifecycle {
	lc := newLifecycle(e.shared, e.budget)
	lc.incidents = lc.assignHere
	return &lc
}

// lifecycles returns each set of windows once, in partition order.
func (e *Engine) lifecycles() []*lifecycle {
	if e.all != nil {
		return []*lifecycle{e.all}
	}
	lcs := make([]*lifecycle, 0, len(e.keyed))
	for _, tp := range sortedKeys(e.keyed) {
		lcs = append(lcs, e.keyed[tp])
	}
	return lcs
}

// partition tracks tp and returns its state and the windows it feeds.
func (e *Engine) partition(tp stream.TopicPartition) (*inputPartition, *lifecycle) {
	p := e.parts.track(tp, e.cfg.Now())
	if e.all != nil {
		return p, e.all
	}
	lc := e.keyed[tp]
	if lc == nil {
		lc = e.newLifecycle()
		e.keyed[tp] = lc
	}
	return p, lc
}

// Watermark returns the time through which the windows of every partition
// are closed.
func (e *Engine) Watermark() time.Time {
	var least time.Time
	for _, lc := range e.lifecycles() {
		if least.IsZero() || lc.watermark.Before(least) {
			least = lc.watermark
		}
	}
	return least
}

// OpenWindows returns the number of open (user, window) states.
func (e *Engine) OpenWindows() int {
	n := 0
	for _, lc := range e.lifecycles() {
		n += lc.win.OpenWindows()
	}
	return n
}

// Assign starts tracking partitions; records of unassigned partitions are
// tracked on first sight too.
func (e *Engine) Assign(tps ...stream.TopicPartition) {
	for _, tp := range tps {
		e.partition(tp)
	}
}

// Revoke stops tracking partitions and lets go of the windows they
// contributed to: their next owner (perhaps this engine again) rebuilds
// them by reading from the committed offset, which never passes them.
func (e *Engine) Revoke(tps ...stream.TopicPartition) {
	pinned := func(_ string, _ window.Bounds, w *liveWindow) bool {
		for _, tp := range tps {
			if _, ok := w.pins[tp]; ok {
				return true
			}
		}
		return false
	}
	for _, lc := range e.lifecycles() {
		lc.win.Forget(pinned)
	}
	for _, tp := range tps {
		delete(e.parts, tp)
		delete(e.keyed, tp)
	}
}

// Positions records where a polled batch left each partition (transaction
// markers included) and the ends the fetch saw.
func (e *Engine) Positions(next, ends map[stream.TopicPartition]int64) {
	e.parts.positions(next, ends, e.cfg.Now())
}

// Ends records partition ends the brokers gave at time at.
func (e *Engine) Ends(ends map[stream.TopicPartition]int64, at time.Time) { e.parts.ends(ends, at) }

// Unpositioned returns the partitions of which no record was read yet:
// only the brokers can tell where reading them starts.
func (e *Engine) Unpositioned() []stream.TopicPartition { return e.parts.unpositioned() }

// Position records where reading a partition without records starts.
func (e *Engine) Position(tp stream.TopicPartition, next int64) { e.parts.position(tp, next) }

// Sources returns the input partitions tracked.
func (e *Engine) Sources() []stream.TopicPartition { return sortedKeys(e.parts) }

// Ingest evaluates one consumed record and adds what it produces to out.
func (e *Engine) Ingest(rec stream.Record, out *Output) {
	e.scanning.one(e.shared, rec, func(rec stream.Record, events []SignIn, rejected []Rejected, s scanned) {
		e.absorb(rec, events, rejected, s, out)
	})
}

// IngestBatch is Ingest for many records: it scans them in parallel on up
// to GOMAXPROCS goroutines (the Scanner is read-only), then applies them to
// the windows one by one in order, so the result is Ingest's.
func (e *Engine) IngestBatch(recs []stream.Record, out *Output) {
	e.scanning.all(e.shared, recs, func(rec stream.Record, events []SignIn, rejected []Rejected, s scanned) {
		e.absorb(rec, events, rejected, s, out)
	})
}

// absorb applies one scanned record: partition progress, dead letters, and
// its qualifying sign-ins to their windows.
func (e *Engine) absorb(rec stream.Record, events []SignIn, rejected []Rejected, s scanned, out *Output) {
	now := e.cfg.Now()
	tp := stream.TopicPartition{Topic: rec.Topic, Partition: rec.Partition}
	p, lc := e.partition(tp)
	p.read(rec.Offset, now)
	lc.cause = rec.Timestamp
	if s.hasTime {
		p.observe(s.time, now, e.cfg.MaxFutureSkew)
	}
	for _, rej := range rejected {
		// The dead letter keeps the whole message: the original bytes.
		out.DeadLetters = append(out.DeadLetters, deadLetter(rec, rej.Reason, rej.Detail, rec.Value))
	}
	var refused []string
	for i := range events {
		ev := &events[i]
		if e.future(ev.TimeGenerated, now) {
			refused = append(refused, ReasonFutureTime)
			continue
		}
		p.observe(ev.TimeGenerated, now, e.cfg.MaxFutureSkew)
		if reason := lc.apply(ev, tp, rec.Offset, nil, out); reason != "" {
			refused = append(refused, reason)
		}
	}
	if len(refused) > 0 {
		// One dead letter per message, whatever the number of its records.
		slices.Sort(refused)
		refused = slices.Compact(refused)
		out.DeadLetters = append(out.DeadLetters, deadLetter(rec, refused[0], refusedDetail(refused), rec.Value))
	}
	e.advance(tp, lc, now, out)
	lc.cause = time.Time{} // closes by Tick have no causing record
}

// Tick advances the watermarks by the wall clock: windows of a caught-up
// partition close under its silence no later than end + lateness + idle
// timeout.
func (e *Engine) Tick(out *Output) {
	now := e.cfg.Now()
	if e.all != nil {
		e.advance(stream.TopicPartition{}, e.all, now, out)
	} else {
		for _, tp := range sortedKeys(e.keyed) {
			e.advance(tp, e.keyed[tp], now, out)
		}
	}
	if wm := e.Watermark(); !wm.IsZero() {
		e.emit.Incidents().Forget(wm.Add(-memberKeep(e.cfg)))
	}
}

// advance closes the windows of lc by the event-time progress of the
// partitions that feed it (progressOf): every one for the engine's single
// set of windows, tp alone with KeyedInput. A partition behind or
// unreachable holds it however silent.
func (e *Engine) advance(tp stream.TopicPartition, lc *lifecycle, now time.Time, out *Output) {
	e.srcs = e.srcs[:0]
	if lc == e.all {
		for _, p := range e.parts {
			e.srcs = append(e.srcs, p.progress(now))
		}
	} else if p := e.parts[tp]; p != nil {
		e.srcs = append(e.srcs, p.progress(now))
	}
	if t, ok := progressOf(e.srcs, e.cfg.IdleTimeout); ok {
		lc.close(t.Add(-e.cfg.Lateness), out)
	}
}

// Committable returns, per tracked partition, the next offset that may be
// committed: past every record consumed, except those whose effect lives
// only in memory (window state that a restart must rebuild by replay).
func (e *Engine) Committable() map[stream.TopicPartition]int64 {
	out := make(map[stream.TopicPartition]int64, len(e.parts))
	for tp, p := range e.parts {
		if p.next >= 0 {
			out[tp] = p.next
		}
	}
	for _, lc := range e.lifecycles() {
		lc.pinned(out)
	}
	return out
}

// memoryUsed is the bytes of state charged to the engine's budget.
func (e *Engine) memoryUsed() int64 { return e.budget.used }

// enginePipeline runs one Engine in a service: input keyed by user, or
// one instance.
type enginePipeline struct{ *Engine }

func newEngine(cfg LiveConfig) (pipeline, error) {
	e, err := NewEngine(cfg)
	if err != nil {
		return nil, err
	}
	return enginePipeline{e}, nil
}

func (p enginePipeline) base() *shared { return p.shared }

func (p enginePipeline) process(b stream.Batch, out *Output) error {
	p.IngestBatch(b.Records, out)
	p.Positions(b.Next, b.Ends)
	return nil
}

func (p enginePipeline) inputs() (all, unpositioned []stream.TopicPartition) {
	return p.Sources(), p.Unpositioned()
}

func (p enginePipeline) listed(l listedEnds) {
	for tp, next := range l.starts {
		p.Position(tp, next)
	}
	p.Ends(l.ends, l.at)
}

func (p enginePipeline) tick(out *Output) { p.Tick(out) }

func (p enginePipeline) commit(tps []stream.TopicPartition) commit {
	return commit{offsets: only(p.Committable(), tps)}
}

func (p enginePipeline) assign(_ context.Context, tps []stream.TopicPartition, _ *Output) error {
	p.Assign(tps...)
	return nil
}

func (p enginePipeline) revoke(tps []stream.TopicPartition) { p.Revoke(tps...) }

func (p enginePipeline) observe(m *Metrics) { m.observe(p.Engine) }
