package detector

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
)

func TestRouterRoutesQualifyingSignInsByUser(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	r, err := NewRouter(LiveConfig{Rule: SeedRule(), Now: func() time.Time { return now }}, "g-repartition", 4, map[string]int32{"signins": 2}, 0)
	if err != nil {
		t.Fatal(err)
	}
	r.Assign(stream.TopicPartition{Topic: "signins", Partition: 0}, stream.TopicPartition{Topic: "signins", Partition: 1})
	w := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	recs := []stream.Record{
		{Topic: "signins", Partition: 0, Offset: 7, Value: []byte(ropcAt(w, "mallory@contoso.com", "m1", "203.0.113.66"))},
		{Topic: "signins", Partition: 1, Offset: 3, Value: []byte(noiseAt(w.Add(time.Minute)))},
		{Topic: "signins", Partition: 1, Offset: 4, Value: []byte(`{not json`)},
	}
	var out RouteOutput
	r.Route(recs, &out)
	r.Positions(map[stream.TopicPartition]int64{{Topic: "signins", Partition: 1}: 5}, map[stream.TopicPartition]int64{{Topic: "signins", Partition: 0}: 8, {Topic: "signins", Partition: 1}: 9})

	if len(out.Records) != 1 {
		t.Fatalf("routed %d records, want the one qualifying sign-in", len(out.Records))
	}
	got := out.Records[0]
	if string(got.Key) != "mallory@contoso.com" || got.Partition != stream.KeyPartition(got.Key, 4) || kindOf(got) != KindSignIn {
		t.Fatalf("routed record key %q partition %d kind %q", got.Key, got.Partition, kindOf(got))
	}
	rs, err := decodeRouted(got.Value)
	if err != nil || rs.Topic != "signins" || rs.Partition != 0 || rs.Offset != 7 || rs.IP != "203.0.113.66" || !rs.Time.Equal(w) {
		t.Fatalf("routed sign-in %+v, %v", rs, err)
	}
	if len(out.DeadLetters) != 1 || out.DeadLetters[0].Position != 4 {
		t.Fatalf("dead letters %+v, want the invalid message", out.DeadLetters)
	}
	if c := r.Committable(); c[stream.TopicPartition{Topic: "signins", Partition: 0}] != 8 || c[stream.TopicPartition{Topic: "signins", Partition: 1}] != 5 {
		t.Fatalf("committable %v", c)
	}
}

func TestRouterMarkers(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	r, err := NewRouter(LiveConfig{Rule: SeedRule(), IdleTimeout: 5 * time.Second, Now: func() time.Time { return now }}, "g-repartition", 3, map[string]int32{"signins": 1}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	tp := stream.TopicPartition{Topic: "signins", Partition: 0}
	if m := r.Markers(); m != nil {
		t.Fatalf("markers before any partition: %d", len(m))
	}
	r.Assign(tp)
	route := func(at time.Time, offset, end int64) {
		var out RouteOutput
		r.Route([]stream.Record{{Topic: "signins", Offset: offset, Value: []byte(noiseAt(at))}}, &out)
		r.Positions(nil, map[stream.TopicPartition]int64{tp: end})
	}
	w := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	var last progressMarker
	steps := []struct {
		name     string
		do       func()
		markers  int
		caughtUp bool
	}{
		{"the first report goes to every shard", func() {}, 3, false},
		{"nothing changed", func() { now = now.Add(10 * time.Millisecond) }, 0, false},
		{"the event time moved: it waits for the heartbeat", func() { route(w, 0, 5) }, 0, false},
		{"a record not caught up", func() { route(w, 1, 5) }, 0, false},
		{"caught up: at once", func() { route(w, 4, 5) }, 3, true},
		{"the heartbeat", func() { now = now.Add(time.Second) }, 3, true},
		{"an end learnt long ago is not caught up any more", func() { now = now.Add(endsFresh) }, 3, false},
		{"a fresh end says caught up again", func() { r.Ends(map[stream.TopicPartition]int64{tp: 5}, now) }, 3, true},
		{"idle", func() { now = now.Add(5 * time.Second); r.Ends(map[stream.TopicPartition]int64{tp: 5}, now) }, 3, true},
	}
	for _, s := range steps {
		s.do()
		m := r.Markers()
		if len(m) != s.markers {
			t.Fatalf("%s: %d markers, want %d", s.name, len(m), s.markers)
		}
		for i, rec := range m {
			if err := json.Unmarshal(rec.Value, &last); err != nil || rec.Partition != int32(i) || kindOf(rec) != KindProgress || len(last.Sources) != 1 {
				t.Fatalf("%s: marker %d = %s (%v)", s.name, i, rec.Value, err)
			}
			if last.Sources[0].CaughtUp != s.caughtUp {
				t.Fatalf("%s: caught up %v, want %v", s.name, last.Sources[0].CaughtUp, s.caughtUp)
			}
		}
	}
}

// A partition whose last offsets are transaction markers (an upstream
// producer with transactions) is caught up once reading passes them,
// though no data record says so. Issue 10, item 11.
func TestRouterCaughtUpPastTransactionMarkers(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	r := newClockedRouter(t, &now)
	tp := stream.TopicPartition{Topic: "signins", Partition: 0}
	r.Assign(tp)
	var out RouteOutput
	r.Route([]stream.Record{{Topic: "signins", Offset: 0, Value: []byte(noiseAt(now))}}, &out)
	r.Positions(map[stream.TopicPartition]int64{tp: 2}, map[stream.TopicPartition]int64{tp: 2}) // offset 1 is a commit marker
	var m progressMarker
	if err := json.Unmarshal(r.Markers()[0].Value, &m); err != nil || !m.Sources[0].CaughtUp {
		t.Fatalf("marker %+v (%v): want caught up past the transaction marker", m, err)
	}
}

// A qualifying sign-in dated further ahead of the clock than the skew is
// dead-lettered and moves nothing.
func TestRouterRefusesTheFuture(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	r := newClockedRouter(t, &now)
	tp := stream.TopicPartition{Topic: "signins", Partition: 0}
	r.Assign(tp)
	var out RouteOutput
	r.Route([]stream.Record{
		{Topic: "signins", Offset: 0, Value: []byte(ropcAt(now.Add(365*24*time.Hour), "mallory@contoso.com", "m1", "203.0.113.66"))},
		{Topic: "signins", Offset: 1, Value: []byte(ropcAt(now.Add(30*time.Second), "alice@contoso.com", "a1", "203.0.113.1"))},
	}, &out)
	if len(out.Records) != 1 || len(out.DeadLetters) != 1 || out.DeadLetters[0].Reason != ReasonFutureTime || out.DeadLetters[0].Position != 0 {
		t.Fatalf("routed %d, dead letters %+v: want the year-ahead sign-in refused as future-time", len(out.Records), out.DeadLetters)
	}
	if got := r.sources[tp].maxEvent; !got.Equal(now.Add(30 * time.Second)) {
		t.Fatalf("event time %v: the refused sign-in moved it", got)
	}
}

// After a transaction aborts, the router reports no progress beyond what
// was committed: the sign-ins of the aborted batch are routed again, and
// markers claiming them would let shards close their windows first. Issue
// 10, item 5.
func TestRouterAbortForgetsUncommittedProgress(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	r := newClockedRouter(t, &now)
	tp := stream.TopicPartition{Topic: "signins", Partition: 0}
	r.Assign(tp)
	var out RouteOutput
	r.Route([]stream.Record{{Topic: "signins", Offset: 0, Value: []byte(noiseAt(now.Add(-time.Hour)))}}, &out)
	r.Committed()
	r.Route([]stream.Record{{Topic: "signins", Offset: 1, Value: []byte(noiseAt(now))}}, &out)
	r.Aborted()
	if src := r.sources[tp]; !src.maxEvent.Equal(now.Add(-time.Hour)) || src.next != 1 {
		t.Fatalf("after the abort: event %v, next %d; want the committed %v and 1", src.maxEvent, src.next, now.Add(-time.Hour))
	}
}

// At least once, a marker produced after a routed sign-in may land though
// the sign-in failed to: markers claim only the progress of a snapshot
// vouched for once the output before it was acknowledged, never what was
// merely read.
func TestRouterMarkersClaimOnlyAcknowledgedRouting(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	r := newClockedRouter(t, &now)
	r.vouchAcknowledged()
	tp := stream.TopicPartition{Topic: "signins", Partition: 0}
	r.Assign(tp)
	claim := func() sourceProgress {
		t.Helper()
		now = now.Add(2 * time.Second) // a heartbeat is due
		recs := r.Markers()
		if len(recs) != 1 {
			t.Fatalf("%d markers", len(recs))
		}
		m, err := decodeProgress(recs[0].Value)
		if err != nil {
			t.Fatal(err)
		}
		return m.Sources[0]
	}
	var out RouteOutput
	first := now.Add(-time.Hour)
	r.Route([]stream.Record{{Topic: "signins", Offset: 0, Value: []byte(ropcAt(first, "a@contoso.com", "1", "203.0.113.1"))}}, &out)
	r.Positions(map[stream.TopicPartition]int64{tp: 1}, map[stream.TopicPartition]int64{tp: 1})
	acked := r.snapshot()
	r.Route([]stream.Record{{Topic: "signins", Offset: 1, Value: []byte(ropcAt(now, "a@contoso.com", "2", "203.0.113.1"))}}, &out)
	r.Positions(map[stream.TopicPartition]int64{tp: 2}, map[stream.TopicPartition]int64{tp: 2})
	if c := claim(); !c.Event.IsZero() || c.CaughtUp {
		t.Fatalf("nothing acknowledged yet, the marker claims %+v", c)
	}
	r.vouch(acked)
	if c := claim(); !c.Event.Equal(first) || c.CaughtUp {
		t.Fatalf("the marker claims %+v; want the first sign-in's time and not caught up (the second is not acknowledged)", c)
	}
	r.vouch(r.snapshot())
	r.Ends(map[stream.TopicPartition]int64{tp: 2}, now)
	if c := claim(); !c.CaughtUp {
		t.Fatalf("all acknowledged and read to the end, the marker claims %+v", c)
	}
}

// newClockedRouter returns a router of the seed rule over one input
// partition, signins/0, to one shard, with *now as its clock.
func newClockedRouter(t *testing.T, now *time.Time) *Router {
	t.Helper()
	r, err := NewRouter(LiveConfig{Rule: SeedRule(), Now: func() time.Time { return *now }}, "g-repartition", 1, map[string]int32{"signins": 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
