package detector

import (
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
)

// inputPartition is what a reader of sign-in partitions (an Engine, a
// Router) knows of one: how far reading got, how far its event time got,
// and where the brokers last said it ends.
type inputPartition struct {
	maxEvent    time.Time // latest event time read, within the future skew
	lastArrival time.Time // wall time of the latest record
	next        int64     // offset after the latest record; -1 before any
	end         int64     // the partition's end; -1 unknown
	endAt       time.Time // wall time the end was learnt
}

func newInputPartition(now time.Time) *inputPartition {
	return &inputPartition{next: -1, end: -1, lastArrival: now}
}

// endsFresh is how long an end learnt from the brokers counts: a partition
// is caught up only while the brokers recently said where it ends, so an
// outage or a stalled fetch is never taken for silence.
const endsFresh = 3 * time.Second

// caughtUp reports whether reading at next has reached the partition's
// end, as the brokers said within endsFresh of now.
func (p *inputPartition) caughtUp(next int64, now time.Time) bool {
	return p.end >= 0 && next >= p.end && now.Sub(p.endAt) <= endsFresh
}

// read records a record at offset, read at now.
func (p *inputPartition) read(offset int64, now time.Time) {
	p.lastArrival, p.next = now, max(p.next, offset+1)
}

// observe records an event time read at now; one further ahead of now than
// skew is not progress (SPEC section 6: time cannot be forged).
func (p *inputPartition) observe(t, now time.Time, skew time.Duration) {
	if !t.After(now.Add(skew)) && t.After(p.maxEvent) {
		p.maxEvent = t
	}
}

// progress is the partition's progress as of now, for progressOf.
func (p *inputPartition) progress(now time.Time) sourceProgress {
	return sourceProgress{Event: p.maxEvent, SilentMillis: max(now.Sub(p.lastArrival), 0).Milliseconds(), CaughtUp: p.caughtUp(p.next, now)}
}

// inputs are the input partitions a reader tracks.
type inputs map[stream.TopicPartition]*inputPartition

// track returns tp's state, tracking it from now when it is new.
func (in inputs) track(tp stream.TopicPartition, now time.Time) *inputPartition {
	p := in[tp]
	if p == nil {
		p = newInputPartition(now)
		in[tp] = p
	}
	return p
}

// positions records where a polled batch left each partition (transaction
// markers included) and the ends the fetch saw, at now.
func (in inputs) positions(next, ends map[stream.TopicPartition]int64, now time.Time) {
	for tp, n := range next {
		if p := in[tp]; p != nil {
			p.next = max(p.next, n)
		}
	}
	in.ends(ends, now)
}

// ends records partition ends the brokers gave at time at.
func (in inputs) ends(ends map[stream.TopicPartition]int64, at time.Time) {
	for tp, end := range ends {
		if p := in[tp]; p != nil {
			p.end, p.endAt = end, at
		}
	}
}

// unpositioned returns, in order, the partitions of which nothing was read
// yet: only the brokers can tell where reading them starts.
func (in inputs) unpositioned() []stream.TopicPartition {
	var tps []stream.TopicPartition
	for _, tp := range sortedKeys(in) {
		if in[tp].next < 0 {
			tps = append(tps, tp)
		}
	}
	return tps
}

// position records where reading a partition with nothing read starts.
func (in inputs) position(tp stream.TopicPartition, next int64) {
	if p := in[tp]; p != nil && p.next < 0 {
		p.next = next
	}
}

// eventTimes returns each partition's latest event time, for metrics.
func (in inputs) eventTimes() map[stream.TopicPartition]time.Time {
	out := make(map[stream.TopicPartition]time.Time, len(in))
	for tp, p := range in {
		out[tp] = p.maxEvent
	}
	return out
}
