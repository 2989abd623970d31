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
// in progress markers, how far in event time its input partitions got and
// whether they are caught up with the brokers, which is what shards close
// windows by.
type Router struct {
	*shared
	topic    string // the repartition topic
	shards   int32  // its partitions
	counts   map[string]int32
	sources  inputs
	scanning scanning
	// reported and lastMarker are what and when the latest markers told.
	reported   map[stream.TopicPartition]reported
	lastMarker time.Time
	// heartbeat is the most time between two rounds of markers.
	heartbeat time.Duration
	// vouched, when not nil, is the sources as of the latest output known
	// acknowledged: markers claim no more (vouchAcknowledged).
	vouched map[stream.TopicPartition]inputPartition
	// committed is the sources as of the last committed transaction, to
	// go back to when one aborts.
	committed map[stream.TopicPartition]inputPartition
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
// partitions; counts gives the partitions of each input topic. Markers go
// out at least every heartbeat (zero means 1s).
func NewRouter(cfg LiveConfig, topic string, shards int32, counts map[string]int32, heartbeat time.Duration) (*Router, error) {
	sh, err := newShared(cfg)
	if err != nil {
		return nil, err
	}
	if shards < 1 {
		return nil, fmt.Errorf("router: repartition topic %s has %d partitions", topic, shards)
	}
	if heartbeat <= 0 {
		heartbeat = time.Second
	}
	return &Router{shared: sh, topic: topic, shards: shards, counts: counts, heartbeat: heartbeat, sources: inputs{}}, nil
}

// NewShard returns an empty shard for a partition of the repartition
// topic, sharing the router's configuration, emitter and counts.
func (r *Router) NewShard(partition int32) *Shard {
	return newShard(r.shared, stream.TopicPartition{Topic: r.topic, Partition: partition}, r.shards, r.heartbeat)
}

// Assign starts tracking input partitions.
func (r *Router) Assign(tps ...stream.TopicPartition) {
	now := r.cfg.Now()
	for _, tp := range tps {
		r.sources.track(tp, now)
	}
}

// Revoke stops tracking input partitions: their progress is now another
// router's to report.
func (r *Router) Revoke(tps ...stream.TopicPartition) {
	for _, tp := range tps {
		delete(r.sources, tp)
		delete(r.committed, tp)
	}
}

// Route evaluates the input messages of a batch and adds what they produce
// to out: qualifying sign-ins for the repartition topic, and dead letters.
func (r *Router) Route(recs []stream.Record, out *RouteOutput) {
	now := r.cfg.Now()
	r.scanning.all(r.shared, recs, func(rec stream.Record, events []SignIn, rejected []Rejected, s scanned) {
		tp := stream.TopicPartition{Topic: rec.Topic, Partition: rec.Partition}
		src := r.sources.track(tp, now)
		src.read(rec.Offset, now)
		if s.hasTime {
			src.observe(s.time, now, r.cfg.MaxFutureSkew)
		}
		for _, rej := range rejected {
			out.DeadLetters = append(out.DeadLetters, deadLetter(rec, rej.Reason, rej.Detail, rec.Value))
		}
		future, tooLarge := false, 0
		for i := range events {
			ev := &events[i]
			if r.future(ev.TimeGenerated, now) {
				future = true
				continue
			}
			src.observe(ev.TimeGenerated, now, r.cfg.MaxFutureSkew)
			value, err := json.Marshal(routed(ev, rec, i, r.version))
			if err != nil { // strings and times always marshal
				panic(fmt.Sprintf("router: marshal sign-in: %v", err))
			}
			key := []byte(ev.UserPrincipalName)
			if size := len(key) + len(value) + recordOverhead; size > r.cfg.MaxRecordBytes {
				// Only attacker-sized values make a sign-in too large to
				// route; it is refused where it came in, never lost.
				r.stats.reject(ReasonTooLarge, 1)
				tooLarge = max(tooLarge, size)
				continue
			}
			out.Records = append(out.Records, stream.Record{
				Topic: r.topic, Partition: stream.KeyPartition(key, int(r.shards)), Key: key, Value: value,
				Headers:   []stream.Header{{Key: KindHeader, Value: []byte(KindSignIn)}},
				Timestamp: rec.Timestamp,
			})
		}
		if future {
			out.DeadLetters = append(out.DeadLetters, deadLetter(rec, ReasonFutureTime, refusedDetail([]string{ReasonFutureTime}), rec.Value))
		}
		if tooLarge > 0 {
			out.DeadLetters = append(out.DeadLetters, deadLetter(rec, ReasonTooLarge,
				fmt.Sprintf("a qualifying sign-in would take a routed record of %d bytes, over the limit of %d", tooLarge, r.cfg.MaxRecordBytes), rec.Value))
		}
	})
}

// Positions records where a polled batch left each input partition
// (transaction markers included) and the ends the fetch saw.
func (r *Router) Positions(next, ends map[stream.TopicPartition]int64) {
	r.sources.positions(next, ends, r.cfg.Now())
}

// Ends records partition ends the brokers gave at time at.
func (r *Router) Ends(ends map[stream.TopicPartition]int64, at time.Time) { r.sources.ends(ends, at) }

// Sources returns the input partitions the router reads.
func (r *Router) Sources() []stream.TopicPartition { return sortedKeys(r.sources) }

// Unpositioned returns the input partitions of which no record was routed
// yet: only the broker can tell where reading them starts.
func (r *Router) Unpositioned() []stream.TopicPartition { return r.sources.unpositioned() }

// Position records where consumption of an input partition without routed
// records starts.
func (r *Router) Position(tp stream.TopicPartition, next int64) { r.sources.position(tp, next) }

// vouchAcknowledged makes markers claim only what vouch was last given:
// routing whose output is acknowledged. Without it they claim what was
// read (right when markers and routed sign-ins commit together).
func (r *Router) vouchAcknowledged() { r.vouched = map[stream.TopicPartition]inputPartition{} }

// snapshot returns the state of every input partition, for vouch once
// the output routed so far is acknowledged.
func (r *Router) snapshot() map[stream.TopicPartition]inputPartition {
	out := make(map[stream.TopicPartition]inputPartition, len(r.sources))
	for tp, src := range r.sources {
		out[tp] = *src
	}
	return out
}

// vouch sets what markers may claim, with vouchAcknowledged: a snapshot
// taken before output that is now acknowledged.
func (r *Router) vouch(snapshot map[stream.TopicPartition]inputPartition) {
	if r.vouched != nil {
		r.vouched = snapshot
	}
}

// report is what a marker says of one input partition: its event time and
// whether it is caught up, as of what the router may vouch for; its
// silence as of now.
func (r *Router) report(tp stream.TopicPartition, src *inputPartition, now time.Time) sourceProgress {
	claim := *src
	if r.vouched != nil {
		v, ok := r.vouched[tp]
		if !ok {
			v = inputPartition{next: -1}
		}
		claim.maxEvent, claim.next = v.maxEvent, v.next
	}
	p := claim.progress(now)
	p.Topic, p.Partition, p.Partitions = tp.Topic, tp.Partition, max(r.counts[tp.Topic], tp.Partition+1)
	p.Event = p.Event.UTC()
	return p
}

// Committed notes that the output of everything routed so far is
// committed (a transaction ended with a commit).
func (r *Router) Committed() { r.committed = r.snapshot() }

// Aborted takes the router back to its last committed state: a transaction
// aborted, so what it routed since is not in the repartition topic and
// consumption rewinds to the committed offsets. Markers claiming the
// aborted progress would let shards close windows before the re-routed
// sign-ins arrive.
func (r *Router) Aborted() {
	now := r.cfg.Now()
	for tp, src := range r.sources {
		if c, ok := r.committed[tp]; ok {
			*src = c
		} else {
			*src = *newInputPartition(now)
		}
	}
	r.reported = nil // report afresh
}

// Markers returns one progress marker per shard, reporting every input
// partition the router reads, when a report changed in a way shards act
// on (catching up, turning idle) or a heartbeat is due; none when it reads
// no partition. Event-time progress alone waits for the heartbeat: it
// only closes windows, and closes are not hurried.
func (r *Router) Markers() []stream.Record {
	if len(r.sources) == 0 {
		return nil
	}
	now := r.cfg.Now()
	if !r.changed(now) && now.Sub(r.lastMarker) < r.heartbeat {
		return nil
	}
	r.lastMarker = now
	m := progressMarker{Topics: slices.Sorted(maps.Keys(r.counts)), Sources: make([]sourceProgress, 0, len(r.sources))}
	for _, tp := range sortedKeys(r.sources) {
		m.Sources = append(m.Sources, r.report(tp, r.sources[tp], now))
	}
	value, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("router: marshal progress: %v", err))
	}
	recs := make([]stream.Record, r.shards)
	for p := range r.shards {
		recs[p] = stream.Record{
			// The timestamp is the router's clock: a shard reads from it
			// how current each report is.
			Topic: r.topic, Partition: p, Value: value, Timestamp: now,
			Headers: []stream.Header{{Key: KindHeader, Value: []byte(KindProgress)}},
		}
	}
	return recs
}

// changed reports whether a source's report differs, as shards act on it,
// from the one last sent, and remembers the current ones.
func (r *Router) changed(now time.Time) bool {
	changed := len(r.reported) != len(r.sources)
	next := make(map[stream.TopicPartition]reported, len(r.sources))
	for tp, src := range r.sources {
		rep := reported{caughtUp: r.report(tp, src, now).CaughtUp, idle: now.Sub(src.lastArrival) >= r.cfg.IdleTimeout}
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

// reported is what shards act on at once in a source's progress.
type reported struct {
	caughtUp, idle bool
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
