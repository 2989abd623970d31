package detector

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
)

func TestRouterRoutesQualifyingSignInsByUser(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	r, err := NewRouter(LiveConfig{Rule: SeedRule(), Now: func() time.Time { return now }}, "g-repartition", 4, map[string]int32{"signins": 2})
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
	r.Route(recs, map[stream.TopicPartition]int64{{Topic: "signins", Partition: 0}: 8, {Topic: "signins", Partition: 1}: 9}, &out)

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
	r, err := NewRouter(LiveConfig{Rule: SeedRule(), Now: func() time.Time { return now }}, "g-repartition", 3, map[string]int32{"signins": 1})
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
		r.Route([]stream.Record{{Topic: "signins", Offset: offset, Value: []byte(noiseAt(at))}}, map[stream.TopicPartition]int64{tp: end}, &out)
	}
	w := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	steps := []struct {
		name    string
		do      func()
		markers int
	}{
		{"the first report goes to every shard", func() {}, 3},
		{"nothing changed", func() { now = now.Add(10 * time.Millisecond) }, 0},
		{"the event time moved", func() { route(w, 0, 5) }, 3},
		{"a record without progress and not caught up", func() { route(w, 1, 5) }, 0},
		{"caught up", func() { route(w, 4, 5) }, 3},
		{"quiet after OrderQuiet", func() { now = now.Add(600 * time.Millisecond) }, 3},
		{"the heartbeat", func() { now = now.Add(time.Second) }, 3},
	}
	for _, s := range steps {
		s.do()
		m := r.Markers()
		if len(m) != s.markers {
			t.Fatalf("%s: %d markers, want %d", s.name, len(m), s.markers)
		}
		for i, rec := range m {
			var pm progressMarker
			if err := json.Unmarshal(rec.Value, &pm); err != nil || rec.Partition != int32(i) || kindOf(rec) != KindProgress || len(pm.Sources) != 1 {
				t.Fatalf("%s: marker %d = %s (%v)", s.name, i, rec.Value, err)
			}
		}
	}
}
