package detector

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
)

// Router is the first stage of a scaled-out detector. It evaluates the rule
// on consumed sign-in messages and sends each qualifying sign-in, keyed by
// user, to the repartition topic, so that one user's sign-ins meet in one
// Shard whichever input partition they arrived on (Event Hubs does not key
// sign-ins by user). Qualifying sign-ins are a tiny part of the input, so
// the repartition topic stays small. A Router also reports to every shard,
// in progress markers, how far in event time its input partitions got,
// which is what shards close windows and order sign-ins by.
type Router struct {
	*shared
	topic    string // the repartition topic
	shards   int32  // its partitions
	counts   map[string]int32
	sources  map[stream.TopicPartition]*sourceState
	scanning scanning
	// reported and lastMarker are what and when the latest markers told.
	reported   map[stream.TopicPartition]reported
	lastMarker time.Time
}

// sourceState tracks one input partition a Router reads.
type sourceState struct {
	maxEvent    time.Time
	lastArrival time.Time
	next        int64 // offset after the latest record; -1 before any
	end         int64 // the partition's high watermark at the latest fetch
}

// RouteOutput is what routing asks its caller to produce.
type RouteOutput struct {
	// Records go to the repartition topic, on their Partition.
	Records     []stream.Record
	DeadLetters []stream.DeadLetter
}

// Reset empties o for reuse.
func (o *RouteOutput) Reset() {
	o.Records = o.Records[:0]
	o.DeadLetters = o.DeadLetters[:0]
}

// NewRouter returns a router writing to topic, which has shards
// partitions; counts gives the partitions of each input topic.
func NewRouter(cfg LiveConfig, topic string, shards int32, counts map[string]int32) (*Router, error) {
	sh, err := newShared(cfg)
	if err != nil {
		return nil, err
	}
	if shards < 1 {
		return nil, fmt.Errorf("router: repartition topic %s has %d partitions", topic, shards)
	}
	return &Router{shared: sh, topic: topic, shards: shards, counts: counts, sources: make(map[stream.TopicPartition]*sourceState)}, nil
}

// NewShard returns an empty shard for a partition of the repartition
// topic, sharing the router's configuration, emitter and counts.
func (r *Router) NewShard(partition int32) *Shard {
	return newShard(r.shared, stream.TopicPartition{Topic: r.topic, Partition: partition})
}

// Assign starts tracking input partitions.
func (r *Router) Assign(tps ...stream.TopicPartition) {
	now := r.cfg.Now()
	for _, tp := range tps {
		if _, ok := r.sources[tp]; !ok {
			r.sources[tp] = &sourceState{next: -1, end: -1, lastArrival: now}
		}
	}
}

// Revoke stops tracking input partitions: their progress is now another
// router's to report.
func (r *Router) Revoke(tps ...stream.TopicPartition) {
	for _, tp := range tps {
		delete(r.sources, tp)
	}
}

// Route evaluates the input messages of a batch and adds what they produce
// to out: qualifying sign-ins for the repartition topic, and dead letters.
func (r *Router) Route(recs []stream.Record, ends map[stream.TopicPartition]int64, out *RouteOutput) {
	now := r.cfg.Now()
	r.scanning.all(r.shared, recs, func(rec stream.Record, events []SignIn, rejected []Rejected, s scanned) {
		tp := stream.TopicPartition{Topic: rec.Topic, Partition: rec.Partition}
		src := r.sources[tp]
		if src == nil {
			src = &sourceState{end: -1}
			r.sources[tp] = src
		}
		src.lastArrival, src.next = now, rec.Offset+1
		if s.hasTime {
			src.observe(s.time, now, r.cfg.MaxFutureSkew)
		}
		for _, rej := range rejected {
			out.DeadLetters = append(out.DeadLetters, deadLetter(rec, rej.Reason, rej.Detail, rec.Value))
		}
		for i := range events {
			ev := &events[i]
			src.observe(ev.TimeGenerated, now, r.cfg.MaxFutureSkew)
			value, err := json.Marshal(routed(ev, rec, i, r.version))
			if err != nil { // strings and times always marshal
				panic(fmt.Sprintf("router: marshal sign-in: %v", err))
			}
			key := []byte(ev.UserPrincipalName)
			out.Records = append(out.Records, stream.Record{
				Topic: r.topic, Partition: stream.KeyPartition(key, int(r.shards)), Key: key, Value: value,
				Headers:   []stream.Header{{Key: KindHeader, Value: []byte(KindSignIn)}},
				Timestamp: rec.Timestamp,
			})
		}
	})
	for tp, end := range ends {
		if src := r.sources[tp]; src != nil {
			src.end = end
		}
	}
}

// Unpositioned returns the input partitions of which no record was routed
// yet: only the broker can tell whether they are caught up.
func (r *Router) Unpositioned() []stream.TopicPartition {
	var tps []stream.TopicPartition
	for tp, src := range r.sources {
		if src.next < 0 {
			tps = append(tps, tp)
		}
	}
	return tps
}

// Position records where consumption of an input partition without routed
// records starts and where the partition ends.
func (r *Router) Position(tp stream.TopicPartition, next, end int64) {
	if src := r.sources[tp]; src != nil && src.next < 0 {
		src.next, src.end = next, end
	}
}

func (s *sourceState) observe(t, now time.Time, skew time.Duration) {
	if !t.After(now.Add(skew)) && t.After(s.maxEvent) {
		s.maxEvent = t
	}
}

// markerHeartbeat is how often a router reports when nothing changed:
// silence itself is progress (windows close under it, SPEC section 3).
const markerHeartbeat = time.Second

// Markers returns one progress marker per shard, reporting every input
// partition the router reads, when the report changed in a way shards act
// on (an event time, catching up, turning quiet or idle) or a heartbeat is
// due; none when it reads no partition.
func (r *Router) Markers() []stream.Record {
	if len(r.sources) == 0 {
		return nil
	}
	now := r.cfg.Now()
	if !r.changed(now) && now.Sub(r.lastMarker) < markerHeartbeat {
		return nil
	}
	r.lastMarker = now
	m := progressMarker{Topics: slices.Sorted(maps.Keys(r.counts)), Sources: make([]sourceProgress, 0, len(r.sources))}
	for tp, src := range r.sources {
		m.Sources = append(m.Sources, sourceProgress{
			Topic: tp.Topic, Partition: tp.Partition, Partitions: max(r.counts[tp.Topic], tp.Partition+1),
			Event: src.maxEvent.UTC(), SilentMillis: max(now.Sub(src.lastArrival), 0).Milliseconds(),
			CaughtUp: src.end >= 0 && src.next >= src.end,
		})
	}
	slices.SortFunc(m.Sources, func(a, b sourceProgress) int { return compareTP(a.tp(), b.tp()) })
	value, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("router: marshal progress: %v", err))
	}
	recs := make([]stream.Record, r.shards)
	for p := range r.shards {
		recs[p] = stream.Record{
			Topic: r.topic, Partition: p, Value: value,
			Headers: []stream.Header{{Key: KindHeader, Value: []byte(KindProgress)}},
		}
	}
	return recs
}

// changed reports whether a source's report differs, as shards see it,
// from the one last sent, and remembers the current ones.
func (r *Router) changed(now time.Time) bool {
	changed := len(r.reported) != len(r.sources)
	next := make(map[stream.TopicPartition]reported, len(r.sources))
	for tp, src := range r.sources {
		silent := now.Sub(src.lastArrival)
		rep := reported{
			event: src.maxEvent, caughtUp: src.end >= 0 && src.next >= src.end,
			quiet: silent >= r.cfg.OrderQuiet, idle: silent >= r.cfg.IdleTimeout,
		}
		if old, ok := r.reported[tp]; !ok || old != rep {
			changed = true
		}
		next[tp] = rep
	}
	if changed {
		r.reported = next
	}
	return changed
}

// reported is what shards act on in a source's progress.
type reported struct {
	event                 time.Time
	caughtUp, quiet, idle bool
}

// Committable returns, per input partition, the offset after the latest
// record routed: the router keeps no state a restart needs.
func (r *Router) Committable() map[stream.TopicPartition]int64 {
	out := make(map[stream.TopicPartition]int64, len(r.sources))
	for tp, src := range r.sources {
		if src.next >= 0 {
			out[tp] = src.next
		}
	}
	return out
}

func compareTP(a, b stream.TopicPartition) int {
	if a.Topic != b.Topic {
		if a.Topic < b.Topic {
			return -1
		}
		return 1
	}
	return int(a.Partition) - int(b.Partition)
}
