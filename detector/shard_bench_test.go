package detector

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
)

// BenchmarkShardRebuild applies a shard's log as a rebuild does: progress
// markers from three instances reading twelve input partitions each 100ms,
// and a qualifying sign-in now and then. It reports records per second.
func BenchmarkShardRebuild(b *testing.B) {
	const sources, instances = 12, 3
	start := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	var recs []stream.Record
	for i := range 20000 {
		at := start.Add(time.Duration(i) * 100 * time.Millisecond / instances)
		m := progressMarker{Topics: []string{"signins"}}
		for p := int32(i % instances); p < sources; p += instances {
			m.Sources = append(m.Sources, sourceProgress{Topic: "signins", Partition: p, Partitions: sources, Event: at})
		}
		value, _ := json.Marshal(m)
		recs = append(recs, stream.Record{Offset: int64(len(recs)), Value: value, Headers: []stream.Header{{Key: KindHeader, Value: []byte(KindProgress)}}})
		if i%50 == 0 {
			value, _ := json.Marshal(routedSignIn{Time: at, User: fmt.Sprintf("u%d@contoso.com", i%40), IP: "203.0.113.1", Id: fmt.Sprint(i), Topic: "signins"})
			recs = append(recs, stream.Record{Offset: int64(len(recs)), Value: value, Headers: []stream.Header{{Key: KindHeader, Value: []byte(KindSignIn)}}})
		}
	}
	r, err := NewRouter(LiveConfig{Rule: SeedRule()}, "g-repartition", 1, map[string]int32{"signins": sources}, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		s := r.NewShard(0)
		var out Output
		for _, rec := range recs {
			s.Apply(rec, &out)
			out.Reset()
		}
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "records/s")
}
