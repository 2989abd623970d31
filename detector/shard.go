package detector

import (
	"fmt"
	"slices"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/window"
)

// Shard is the second stage of a scaled-out detector: one partition of the
// repartition topic. It holds the windows of the users whose sign-ins
// Routers send there, and groups the incidents of the grouping keys that
// hash there. Its output is a function of that partition's records alone,
// in order (sign-ins, progress markers, alerts and incidents from other
// shards), so whichever instance owns the partition, and however often it
// is rebuilt, it emits the same revisions with the same content:
//
//   - a sign-in is applied when it arrives: the first qualifying sign-in of
//     a window raises its early alert at once, whatever other partitions
//     are doing;
//   - windows close when the event-time progress of every input partition,
//     as the markers report it, minus the lateness passes their end;
//   - an alert's first revision goes to the shard of its incident's group,
//     which assigns the incident, sends the alert and hands the incident
//     back; later revisions carry it (they wait for it when they come
//     first);
//   - a sign-in refused for want of memory is recorded in the partition,
//     so that a rebuild refuses it too.
type Shard struct {
	*shared
	lc      lifecycle
	inc     *Incidents
	tp      stream.TopicPartition
	shards  int32 // partitions of the repartition topic
	sources map[stream.TopicPartition]*sourceProgress
	counts  map[string]int32
	// reportFresh is how far a partition's latest report may be behind
	// the latest of any for what it says of the brokers to count.
	reportFresh time.Duration
	next        int64 // offset after the latest record; -1 before any
	skip        int64 // records below it are already in the state (restored)
	// refused lists the offsets of sign-ins refused for want of memory,
	// from the oldest checkpoint kept; histories the offsets from which
	// this shard's decisions and its predecessors' were their own (the
	// last is this owner's), for its refusal records.
	refused   []int64
	histories []int64
	// rebuild is set while a rebuild replays records its previous owner
	// already processed: memory decisions are the previous owner's.
	rebuild *rebuildState
	// checkpoints are points of the partition a rebuild may start from:
	// the progress there, oldest first.
	checkpoints    []shardCheckpoint
	lastCheckpoint time.Time
}

// rebuildState is what a rebuild knows of the records it replays.
type rebuildState struct {
	through int64
	refused map[int64]bool
	limit   int64 // the budget, off while replaying
}

// reportsFresh is how many marker intervals a partition's latest report
// counts as current in a shard.
const reportsFresh = 3

func newShard(sh *shared, tp stream.TopicPartition, shards int32, heartbeat time.Duration) *Shard {
	share := sh.cfg.MemoryBudget / int64(max(shards, 1))
	s := &Shard{
		shared: sh, lc: newLifecycle(sh, &budget{limit: share}), tp: tp, shards: shards, next: -1, reportFresh: reportsFresh * heartbeat,
		inc:     NewIncidents(sh.cfg.Rule.Incident, sh.cfg.Rule.ID),
		sources: make(map[stream.TopicPartition]*sourceProgress), counts: make(map[string]int32),
	}
	s.inc.SetLimit(incidentLimit(share))
	s.lc.incidents = s.viaOwner
	return s
}

// Partition returns the shard's partition of the repartition topic.
func (s *Shard) Partition() int32 { return s.tp.Partition }

// OpenWindows returns the number of open (user, window) states held.
func (s *Shard) OpenWindows() int { return s.lc.win.OpenWindows() }

// Watermark returns the time through which windows are closed.
func (s *Shard) Watermark() time.Time { return s.lc.watermark }

// MemoryUsed returns the bytes of state charged to the shard's budget.
func (s *Shard) MemoryUsed() int64 { return s.lc.budget.used }

// Apply processes one record of the shard's partition, in offset order,
// and adds what it produces to out.
func (s *Shard) Apply(rec stream.Record, out *Output) {
	if rec.Offset < s.skip {
		return
	}
	if len(s.checkpoints) == 0 {
		s.checkpoints = append(s.checkpoints, s.checkpoint(rec.Offset))
		s.lastCheckpoint = s.cfg.Now()
	}
	if len(s.histories) == 0 {
		s.histories = []int64{rec.Offset}
	}
	s.next = rec.Offset + 1
	var err error
	switch kind := kindOf(rec); kind {
	case KindSignIn:
		err = s.signIn(rec, out)
	case KindProgress:
		err = s.progressMarker(rec, out)
	case KindAlert:
		err = s.alert(rec, out)
	case KindIncident:
		err = s.incident(rec, out)
	case KindRefusal:
		// Read by rebuilds before they replay; nothing to do in order.
	default:
		err = fmt.Errorf("unknown %s header %q", KindHeader, kind)
	}
	if err != nil {
		s.stats.reject(ReasonInvalidInternal, 1)
		out.DeadLetters = append(out.DeadLetters, deadLetter(rec, ReasonInvalidInternal, err.Error(), rec.Value))
	}
}

func (s *Shard) signIn(rec stream.Record, out *Output) error {
	r, err := decodeRouted(rec.Value)
	if err != nil {
		return err
	}
	from := inputPosition{stream.TopicPartition{Topic: r.Topic, Partition: r.Partition}, r.Offset, r.Index}
	ev := r.signIn()
	s.lc.cause, s.lc.version = r.Produced, r.Version
	defer func() { s.lc.cause, s.lc.version = time.Time{}, "" }()
	reason := ""
	if b := s.rebuild; b != nil && b.refused[rec.Offset] {
		reason = ReasonStateFull // its previous owner refused it
		s.stats.reject(reason, 1)
	} else {
		reason = s.lc.apply(&ev, s.tp, rec.Offset, &from, out)
	}
	if reason == "" {
		return nil
	}
	if reason == ReasonStateFull {
		s.refused = append(s.refused, rec.Offset)
		if s.rebuild == nil {
			out.Internal = append(out.Internal, refusalRecord(s.tp.Topic, s.tp.Partition, rec.Offset, s.histories[len(s.histories)-1]))
		}
	}
	out.DeadLetters = append(out.DeadLetters, stream.DeadLetter{
		Reason: reason, Detail: refusedDetail([]string{reason}) + " (value: the routed sign-in)",
		Source: r.Topic, Partition: r.Partition, Position: r.Offset, Raw: rec.Value, Size: int64(len(rec.Value)),
	})
	return nil
}

func (s *Shard) progressMarker(rec stream.Record, out *Output) error {
	m, err := decodeProgress(rec.Value)
	if err != nil {
		return err
	}
	s.forget(m.Topics)
	for _, p := range m.Sources {
		p.Reported = rec.Timestamp
		s.observe(p)
	}
	s.advance(out)
	return nil
}

// alert groups the incident of an alert's first revision (the shard owns
// its group), sends the alert and hands the incident back.
func (s *Shard) alert(rec stream.Record, out *Output) error {
	r, err := decodeRoutedAlert(rec.Value)
	if err != nil {
		return err
	}
	if b := s.rebuild; b != nil && rec.Offset < b.through {
		return nil // the restored grouping is the one at through
	}
	a := s.emit.routed(r)
	switch s.inc.Assign(&a) {
	case KnownMember:
		// Sent again (its window's shard restarted behind what it had
		// sent): this shard sent it with its incident when it came first,
		// or sends it again when it processes that record again.
		s.stats.Duplicates++
		return nil
	case Joined, Created:
		if inc, ok := s.inc.Snapshot(a.IncidentId); ok {
			out.Incidents = append(out.Incidents, inc)
		}
	}
	out.add(a, r.Cause)
	window := stream.KeyPartition([]byte(a.Result.UserPrincipalName), int(s.shards))
	out.Internal = append(out.Internal, incidentRecord(s.tp.Topic, window, &a))
	return nil
}

// incident learns the incident of one of the shard's windows.
func (s *Shard) incident(rec stream.Record, out *Output) error {
	r, err := decodeIncidentOf(rec.Value)
	if err != nil {
		return err
	}
	if w, ok := s.lc.win.Lookup(r.User, r.WindowEnd); ok {
		s.lc.incidentKnown(w, r.IncidentId, out)
	}
	return nil
}

// viaOwner is the incidents strategy of a shard: a first revision goes to
// the shard of its group, which sends it with its incident.
func (s *Shard) viaOwner(w *liveWindow, a *Alert, out *Output) bool {
	owner := s.inc.Owner(a, s.shards)
	if owner < 0 {
		return true // no incidents: it goes out now
	}
	b := window.Bounds{Start: a.WindowStart, End: a.WindowEnd}
	out.Internal = append(out.Internal, alertRecord(s.tp.Topic, owner, a, b, s.lc.cause, s.cfg.MaxRecordBytes))
	return false
}

// observe records a router's report on one input partition: the event time
// only grows (a new owner restarting behind the old one's report does not
// take it back); silence and caught-up are as last reported.
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

// advance closes windows by the event-time progress of the input
// (progressOf), once each partition of each input topic has reported.
func (s *Shard) advance(out *Output) {
	if len(s.sources) == 0 {
		return
	}
	for topic, n := range s.counts {
		for p := range n {
			if _, ok := s.sources[stream.TopicPartition{Topic: topic, Partition: p}]; !ok {
				return
			}
		}
	}
	srcs := make([]sourceProgress, 0, len(s.sources))
	var latest time.Time
	for _, src := range s.sources {
		srcs = append(srcs, *src)
		if src.Reported.After(latest) {
			latest = src.Reported
		}
	}
	for i := range srcs {
		// No router reports the partition any more (it left, or its
		// router stopped): what it last said of the brokers is stale, and
		// records may have arrived since.
		if latest.Sub(srcs[i].Reported) > s.reportFresh {
			srcs[i].CaughtUp = false
		}
	}
	t, ok := progressOf(srcs, s.cfg.IdleTimeout)
	if !ok {
		return
	}
	s.lc.close(t.Add(-s.cfg.Lateness), out)
	s.inc.Forget(s.lc.watermark.Add(-memberKeep(s.cfg)))
}

// memberKeep is how long past its window's end, by event time, a shard
// remembers an alert's incident: twice what the shard of the window keeps
// it, so that one that lags still finds it when it sends it again.
func memberKeep(c LiveConfig) time.Duration {
	return 2 * (c.Rule.QueryPeriod + c.Lateness + c.Retention)
}

// join makes the shard part of a detector: later alerts go through its
// emitter and counts.
func (s *Shard) join(sh *shared) {
	s.shared = sh
	s.lc.sh = sh
}
