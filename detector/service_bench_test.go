package detector

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/detector/synth"
	"github.com/ropcwatch/ropcwatch/stream"
)

// BenchmarkStreamThroughput fills one topic with generated sign-ins (0.5%
// ROPC, envelopes of 1-16 records) and reads it twice from the same broker:
// consume-only is the baseline, a franz-go group member reading to the end
// and doing nothing; detector is the whole service: consume, detect, produce
// alerts, commit; detector-scaled the same scaled out. Compare the MB/s
// figures of one run.
func BenchmarkStreamThroughput(b *testing.B) {
	st := newServiceTopics(b, 3)
	lines, _ := generated(b, synth.Config{Records: 100000, Seed: 41})
	p, err := stream.NewProducer(stream.ProducerConfig{Kafka: st.target.Config, ManualPartitions: true})
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	var failed atomic.Value
	for i, l := range lines {
		p.Produce(context.Background(), stream.Record{Topic: st.signins, Partition: int32(i % 3), Value: []byte(l)}, func(_ stream.Record, err error) {
			if err != nil {
				failed.Store(err)
			}
		})
		size += int64(len(l))
	}
	if err := p.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	p.Close()
	messages := int64(len(lines))

	b.Run("consume-only", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			c, err := stream.NewConsumer(stream.ConsumerConfig{Kafka: st.target.Config, Topics: []string{st.signins}, Group: fmt.Sprintf("consume-only-%d", time.Now().UnixNano())}, stream.PartitionHooks{})
			if err != nil {
				b.Fatal(err)
			}
			for got := int64(0); got < messages; {
				batch, err := c.Poll(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				got += int64(len(batch.Records))
				c.AllowRebalance()
			}
			c.Close(context.Background())
		}
	})
	detector := func(b *testing.B, scaled bool) {
		b.SetBytes(size)
		for b.Loop() {
			run := st
			run.group = fmt.Sprintf("detector-%d", time.Now().UnixNano())
			live := LiveConfig{Lateness: time.Minute}
			cfg := run.config(live)
			if scaled {
				cfg = run.scaledConfig(live, "bench", false)
			}
			// Restoring incidents is a start-up cost that grows with the
			// topic over iterations; it is not throughput.
			cfg.IncidentsTopic = ""
			ctx, cancel := context.WithCancel(context.Background())
			cfg.OnBatch = func(s *Stats) {
				if s.Messages >= messages {
					cancel()
				}
			}
			if err := RunService(ctx, cfg); err != nil {
				b.Fatal(err)
			}
			cancel()
		}
	}
	b.Run("detector", func(b *testing.B) { detector(b, false) })
	// Scaled out, the input is routed: qualifying sign-ins and progress
	// markers go through the repartition topic to the shards.
	b.Run("detector-scaled", func(b *testing.B) { detector(b, true) })
}

// BenchmarkEarlyAlertLatency measures the time from producing a qualifying
// sign-in to its early alert being readable on the alerts topic, while a
// background producer offers 100k sign-in records per second of the
// present, as a live tenant's stream. It reports the percentiles and the
// background rate actually achieved: for one engine (input keyed by user)
// and scaled out, where a sign-in waits for every input partition to
// reach its time.
func BenchmarkEarlyAlertLatency(b *testing.B) {
	b.Run("engine", func(b *testing.B) { benchmarkEarlyAlertLatency(b, false) })
	b.Run("scaled", func(b *testing.B) { benchmarkEarlyAlertLatency(b, true) })
}

func benchmarkEarlyAlertLatency(b *testing.B, scaled bool) {
	st := newServiceTopics(b, 3)
	lines, _ := generated(b, synth.Config{Records: 60000, Seed: 42, ROPCRate: 0.0001})
	recordsPerLine := 60000.0 / float64(len(lines))
	cfg := st.config(LiveConfig{})
	if scaled {
		cfg = st.scaledConfig(LiveConfig{}, "bench", false)
	}
	cfg.CommitInterval = time.Second // the service's default, not the tests' 200ms
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := RunService(ctx, cfg); err != nil {
			b.Error(err)
		}
	}()

	// Background load: 100k records/s, paced every 10 ms.
	var background atomic.Int64 // messages sent; recordsPerLine records each on average
	go func() {
		defer wg.Done()
		// Lingering batches are the cheapest way to offer the load on the
		// same two cores as the broker and the detector.
		p, err := stream.NewProducer(stream.ProducerConfig{Kafka: st.target.Config, MaxBufferedRecords: 100000, Linger: 20 * time.Millisecond})
		if err != nil {
			b.Error(err)
			return
		}
		defer p.Close()
		// Paced by elapsed time, so a late tick catches up.
		const rate = 100000.0
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		begin, sent := time.Now(), 0
		for ctx.Err() == nil {
			due := int(time.Since(begin).Seconds() * rate / recordsPerLine)
			for ; sent < due; sent++ {
				value := []byte(lines[sent%len(lines)])
				if et, ok := EventTime(value); ok {
					value = ShiftTimes(value, time.Since(et))
				}
				p.Produce(ctx, stream.Record{Topic: st.signins, Value: value}, func(stream.Record, error) {})
				background.Add(1)
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
			}
		}
	}()

	probe, err := stream.NewProducer(stream.ProducerConfig{Kafka: st.target.Config, Linger: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer probe.Close()
	alerts, err := stream.NewConsumer(stream.ConsumerConfig{Kafka: st.target.Config, Topics: []string{st.alerts}, Group: "latency-reader", StartLatest: false}, stream.PartitionHooks{})
	if err != nil {
		b.Fatal(err)
	}
	defer alerts.Close(context.Background())

	time.Sleep(2 * time.Second) // let the load and the group settle
	loadStart, loadBase := time.Now(), background.Load()
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		upn := fmt.Sprintf("probe-%d-%d@contoso.com", b.N, i)
		sent := time.Now()
		if err := probe.ProduceSync(ctx, stream.Record{Topic: st.signins, Value: []byte(ropcAt(time.Now().UTC(), upn, upn, "203.0.113.9"))}); err != nil {
			b.Fatal(err)
		}
		for found := false; !found; {
			pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
			batch, err := alerts.Poll(pctx)
			pcancel()
			if err != nil {
				b.Fatalf("waiting for the alert of %s: %v", upn, err)
			}
			for _, r := range batch.Records {
				if string(r.Key) == upn {
					found = true
					lat = append(lat, time.Since(sent))
				}
			}
			alerts.AllowRebalance()
		}
	}
	rate := float64(background.Load()-loadBase) * recordsPerLine / time.Since(loadStart).Seconds()
	cancel()
	wg.Wait()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(rate, "background-records/s")
	b.ReportMetric(0, "ns/op")
}
