package detector

import (
	"cmp"
	"container/heap"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
)

// Shard is the second stage of a scaled-out detector: the windows of the
// users whose sign-ins a Router sent to one partition of the repartition
// topic. Its output is a function of that partition's records alone — the
// sign-ins and the routers' progress markers — so whichever instance owns
// the partition, and however often it is rebuilt, it emits the same alert
// revisions:
//
//   - sign-ins are applied in event-time order (ties by user, then source
//     position), not in arrival order: each is held until every input
//     partition has reached its TimeGenerated, or is caught up and quiet
//     (LiveConfig.OrderQuiet);
//   - windows close when the event-time progress of every input partition,
//     as the markers report it, minus the lateness passes their end.
//
// A sign-in that arrives behind that progress is applied on arrival.
type Shard struct {
	*shared
	lc      lifecycle
	tp      stream.TopicPartition
	sources map[stream.TopicPartition]*sourceProgress
	counts  map[string]int32
	held    heldQueue
	next    int64 // offset after the latest record; -1 before any
	skip    int64 // records below it are already in the state (restored)
	// checkpoints are points of the partition a rebuild may start from:
	// the progress and watermark there, oldest first.
	checkpoints    []shardCheckpoint
	lastCheckpoint time.Time
}

// checkpointEvery spaces checkpoints in wall time; a rebuild replays at
// most this much beyond what the open windows need.
const checkpointEvery = 10 * time.Second

type shardCheckpoint struct {
	offset    int64
	sources   []sourceProgress
	watermark time.Time
}

// heldSignIn is a sign-in waiting for the input partitions to catch up.
type heldSignIn struct {
	r      routedSignIn
	offset int64 // in the shard's partition
	value  []byte
}

func newShard(sh *shared, tp stream.TopicPartition) *Shard {
	return &Shard{
		shared: sh, lc: newLifecycle(sh), tp: tp, next: -1,
		sources: make(map[stream.TopicPartition]*sourceProgress), counts: make(map[string]int32),
	}
}

// Partition returns the shard's partition of the repartition topic.
func (s *Shard) Partition() int32 { return s.tp.Partition }

// OpenWindows returns the number of (user, window) states held.
func (s *Shard) OpenWindows() int { return s.lc.win.OpenWindows() }

// Watermark returns the time through which windows are closed.
func (s *Shard) Watermark() time.Time { return s.lc.watermark }

// Apply processes one record of the shard's partition, in offset order,
// and adds what it produces to out.
func (s *Shard) Apply(rec stream.Record, out *Output) {
	if rec.Offset < s.skip {
		return
	}
	if len(s.checkpoints) == 0 {
		s.checkpoints = append(s.checkpoints, shardCheckpoint{offset: rec.Offset})
		s.lastCheckpoint = s.cfg.Now()
	}
	s.next = rec.Offset + 1
	switch kind := kindOf(rec); kind {
	case KindSignIn:
		r, err := decodeRouted(rec.Value)
		if err != nil {
			s.invalid(rec, err.Error(), out)
			return
		}
		h := heldSignIn{r: r, offset: rec.Offset, value: rec.Value}
		if t, all, ok := s.progress(s.cfg.OrderQuiet); ok && (all || !r.Time.After(t)) {
			s.apply(&h, out)
			return
		}
		heap.Push(&s.held, h)
		if s.held.Len() > s.cfg.MaxWindows {
			// Memory bound over order: apply the oldest now.
			s.apply(new(heap.Pop(&s.held).(heldSignIn)), out)
		}
	case KindProgress:
		m, err := decodeProgress(rec.Value)
		if err != nil {
			s.invalid(rec, err.Error(), out)
			return
		}
		s.forget(m.Topics)
		for _, p := range m.Sources {
			s.observe(p)
		}
		s.release(out)
		s.advance(out)
	default:
		s.invalid(rec, fmt.Sprintf("unknown %s header %q", KindHeader, kind), out)
	}
}

func (s *Shard) invalid(rec stream.Record, detail string, out *Output) {
	s.stats.reject(ReasonInvalidInternal, 1)
	out.DeadLetters = append(out.DeadLetters, deadLetter(rec, ReasonInvalidInternal, detail, rec.Value))
}

// observe records a router's report on one input partition: the event time
// only grows (a new owner restarting behind the old one's report does not
// take it back); quiet and caught-up are as last reported.
func (s *Shard) observe(p sourceProgress) {
	tp := p.tp()
	cur := s.sources[tp]
	if cur == nil {
		cur = &sourceProgress{Topic: p.Topic, Partition: p.Partition}
		s.sources[tp] = cur
	}
	event := cur.Event
	if p.Event.After(event) {
		event = p.Event
	}
	*cur = p
	cur.Event = event
	s.counts[p.Topic] = max(s.counts[p.Topic], p.Partitions)
}

// forget drops the progress of input topics no longer read.
func (s *Shard) forget(topics []string) {
	for tp := range s.sources {
		if !slices.Contains(topics, tp.Topic) {
			delete(s.sources, tp)
		}
	}
	for topic := range s.counts {
		if !slices.Contains(topics, topic) {
			delete(s.counts, topic)
		}
	}
}

// progress is the event time every input partition has reached, leaving
// out those caught up and silent for quiet; all when every one is. It is
// not known until each partition of each input topic has reported, and
// each of those not left out has shown an event time.
func (s *Shard) progress(quiet time.Duration) (t time.Time, all, ok bool) {
	if len(s.sources) == 0 {
		return t, false, false
	}
	for topic, n := range s.counts {
		for p := range n {
			if _, ok := s.sources[stream.TopicPartition{Topic: topic, Partition: p}]; !ok {
				return t, false, false
			}
		}
	}
	active := false
	for _, src := range s.sources {
		if src.CaughtUp && src.silent() >= quiet {
			continue
		}
		if src.Event.IsZero() {
			return t, false, false
		}
		if !active || src.Event.Before(t) {
			t, active = src.Event, true
		}
	}
	return t, !active, true
}

// release applies the held sign-ins that every input partition has passed,
// in order.
func (s *Shard) release(out *Output) {
	t, all, ok := s.progress(s.cfg.OrderQuiet)
	if !ok {
		return
	}
	for s.held.Len() > 0 && (all || !s.held[0].r.Time.After(t)) {
		s.apply(new(heap.Pop(&s.held).(heldSignIn)), out)
	}
}

// advance closes windows by the event-time progress: of the partitions
// that are not idle, or, when all are, the latest event time plus the
// silence beyond the idle timeout (SPEC section 3).
func (s *Shard) advance(out *Output) {
	t, all, ok := s.progress(s.cfg.IdleTimeout)
	if !ok {
		return
	}
	if all {
		var latest time.Time
		silent := time.Duration(-1)
		for _, src := range s.sources {
			if src.Event.After(latest) {
				latest = src.Event
			}
			if silent < 0 || src.silent() < silent {
				silent = src.silent()
			}
		}
		beyond := silent - s.cfg.IdleTimeout
		if latest.IsZero() || beyond <= 0 {
			return
		}
		t = latest.Add(beyond)
	}
	s.lc.close(t.Add(-s.cfg.Lateness), out)
}

func (s *Shard) apply(h *heldSignIn, out *Output) {
	ev := h.r.signIn()
	s.lc.cause, s.lc.version = h.r.Produced, h.r.Version
	if reason := s.lc.apply(&ev, s.tp, h.offset, out); reason != "" {
		out.DeadLetters = append(out.DeadLetters, stream.DeadLetter{
			Reason: reason, Detail: "qualifying sign-in for a window no longer held (value: the routed sign-in)",
			Source: h.r.Topic, Partition: h.r.Partition, Position: h.r.Offset, Raw: h.value, Size: int64(len(h.value)),
		})
	}
	s.lc.cause, s.lc.version = time.Time{}, ""
}

// State returns what a next owner needs to rebuild the shard as it is now,
// false before any record. It also takes a checkpoint when the latest is
// checkpointEvery old.
func (s *Shard) State() (ShardState, bool) {
	if s.next < 0 {
		return ShardState{}, false
	}
	pin := map[stream.TopicPartition]int64{s.tp: s.next}
	for _, h := range s.held {
		pin[s.tp] = min(pin[s.tp], h.offset)
	}
	s.lc.pinned(pin)
	// The latest checkpoint at or before the first record still needed.
	i := len(s.checkpoints) - 1
	for i > 0 && s.checkpoints[i].offset > pin[s.tp] {
		i--
	}
	s.checkpoints = s.checkpoints[i:]
	cp := s.checkpoints[0]
	st := ShardState{Partition: s.tp.Partition, Through: s.next, From: cp.offset, Sources: cp.sources, Watermark: cp.watermark}
	if now := s.cfg.Now(); now.Sub(s.lastCheckpoint) >= checkpointEvery {
		s.checkpoints = append(s.checkpoints, shardCheckpoint{offset: s.next, sources: s.sourceList(), watermark: s.lc.watermark})
		s.lastCheckpoint = now
	}
	return st, true
}

func (s *Shard) sourceList() []sourceProgress {
	list := make([]sourceProgress, 0, len(s.sources))
	for _, p := range s.sources {
		list = append(list, *p)
	}
	slices.SortFunc(list, func(a, b sourceProgress) int { return compareTP(a.tp(), b.tp()) })
	return list
}

// StateRecord renders State for the state topic; false before any record.
func (s *Shard) StateRecord(topic string) (stream.Record, bool) {
	st, ok := s.State()
	if !ok {
		return stream.Record{}, false
	}
	value, err := json.Marshal(st)
	if err != nil {
		panic(fmt.Sprintf("shard: marshal state: %v", err))
	}
	return stream.Record{Topic: topic, Partition: s.tp.Partition, Key: fmt.Appendf(nil, "%d", s.tp.Partition), Value: value}, true
}

// Restore starts an empty shard from a state its previous owner left: the
// caller then applies the partition's records from st.From up to
// st.Through, discarding their output (it was delivered before), and
// consumption goes on from there; records below st.Through that arrive
// again are ignored.
func (s *Shard) Restore(st ShardState) {
	for _, p := range st.Sources {
		s.observe(p)
	}
	s.lc.close(st.Watermark, &Output{}) // no window yet: sets the watermark only
	s.checkpoints = []shardCheckpoint{{offset: st.From, sources: st.Sources, watermark: st.Watermark}}
	s.lastCheckpoint = s.cfg.Now()
}

// join makes the shard part of a detector: later alerts go through its
// emitter (and incidents) and counts.
func (s *Shard) join(sh *shared) {
	s.shared = sh
	s.lc.sh = sh
}

// Restored marks the end of a rebuild: records before through are in the
// state.
func (s *Shard) Restored(through int64) {
	s.skip = through
	s.next = max(s.next, through)
}

// heldQueue orders held sign-ins by time, user, then source position.
type heldQueue []heldSignIn

func (q heldQueue) Len() int { return len(q) }
func (q heldQueue) Less(i, j int) bool {
	a, b := &q[i].r, &q[j].r
	if c := a.Time.Compare(b.Time); c != 0 {
		return c < 0
	}
	return cmp.Or(
		cmp.Compare(a.User, b.User), cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition),
		cmp.Compare(a.Offset, b.Offset), cmp.Compare(a.Index, b.Index),
	) < 0
}
func (q heldQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *heldQueue) Push(x any)   { *q = append(*q, x.(heldSignIn)) }
func (q *heldQueue) Pop() any {
	old := *q
	h := old[len(old)-1]
	*q = old[:len(old)-1]
	return h
}
