package main

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/ropcwatch/ropcwatch/cmd/ropcwatch/internal/loadreport"
	"github.com/ropcwatch/ropcwatch/detector"
	"github.com/ropcwatch/ropcwatch/stream"
)

// sampleEvery is how often the load test samples counts and lag.
const sampleEvery = time.Second

// processedCount is what an in-process detector has processed, as its OnBatch
// hook reports it from the service's poll loop.
type processedCount struct {
	messages, bytes atomic.Int64
	first, last     atomic.Int64 // Unix nanoseconds of the first and latest batch
}

func (p *processedCount) observe(st *detector.Stats) {
	now := time.Now().UnixNano()
	p.first.CompareAndSwap(0, now)
	p.last.Store(now)
	p.messages.Store(st.Messages)
	p.bytes.Store(st.Bytes)
}

func (p *processedCount) count() loadreport.Count {
	return loadreport.Count{Messages: p.messages.Load(), Bytes: p.bytes.Load()}
}

// flow is the processed count from the first to the latest batch, timed
// from t0.
func (p *processedCount) flow(t0 time.Time) loadreport.Flow {
	f := loadreport.Flow{Count: p.count()}
	if first := p.first.Load(); first != 0 {
		f.From, f.To = time.Unix(0, first).Sub(t0), time.Unix(0, p.last.Load()).Sub(t0)
	}
	return f
}

// sampler records counts and the detector group's committed lag about once
// a second. Its run goroutine owns the samples.
type sampler struct {
	mon          *stream.Monitor
	topic, group string
	t0           time.Time
	produced     func() loadreport.Count
	// consumed is nil for a detector in another process: its progress is
	// then the group's committed offsets beyond baseline.
	consumed func() loadreport.Count
	baseline int64
	warn     io.Writer

	// samples are the caller's once run has returned.
	samples []loadreport.Sample
	failed  int
}

// run samples now and every sampleEvery until ctx is done, then once more;
// sample times are offsets from t0.
func (s *sampler) run(ctx context.Context, t0 time.Time) {
	s.t0 = t0
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	s.sample(ctx)
	for {
		select {
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			s.sample(last)
			cancel()
			if s.failed > 0 {
				fmt.Fprintf(s.warn, "ropcwatch loadtest: %d of %d lag samples failed and were left out\n", s.failed, s.failed+len(s.samples))
			}
			return
		case <-t.C:
			s.sample(ctx)
		}
	}
}

func (s *sampler) sample(ctx context.Context) {
	at := time.Since(s.t0)
	offsets, err := s.mon.Offsets(ctx, s.topic, s.group)
	if err != nil {
		s.failed++
		return
	}
	smp := loadreport.Sample{At: at, Produced: s.produced(), CommittedLag: offsets.Lag()}
	if s.consumed != nil {
		smp.Consumed = s.consumed()
	} else {
		smp.Consumed.Messages = max(0, offsets.Committed()-s.baseline)
	}
	s.samples = append(s.samples, smp)
}
