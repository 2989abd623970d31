package detector

import (
	"runtime"
	"sync"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
)

// scanning scans consumed records for Engine and Router, reusing its
// Findings from one batch to the next.
type scanning struct {
	findings Findings
	// workers are reused by all, one per scanning goroutine.
	workers []Findings
}

// scanned is what scanning one record found: where its events and rejects
// sit in its worker's Findings, and its raw event time.
type scanned struct {
	worker              int
	events, events2     int
	rejected, rejected2 int
	time                time.Time
	hasTime             bool
}

// scanFunc receives one scanned record, in order, with its qualifying
// sign-ins and rejects (valid until the next call).
type scanFunc func(rec stream.Record, events []SignIn, rejected []Rejected, s scanned)

// scan scans one message into f and notes its event time.
func (e *shared) scan(value []byte, f *Findings) scanned {
	s := scanned{events: len(f.Events), rejected: len(f.Rejected)}
	e.sc.Scan(value, 0, f)
	s.events2, s.rejected2 = len(f.Events), len(f.Rejected)
	s.time, s.hasTime = rawEventTime(value)
	return s
}

// one scans one record and hands it to fn.
func (sc *scanning) one(e *shared, rec stream.Record, fn scanFunc) {
	f := &sc.findings
	f.Reset()
	s := e.scan(rec.Value, f)
	e.stats.Add(&f.Stats)
	fn(rec, f.Events, f.Rejected, s)
}

// all scans recs in parallel on up to GOMAXPROCS goroutines (the Scanner is
// read-only), then hands them to fn one by one in order, so the result is
// that of calling one for each.
func (sc *scanning) all(e *shared, recs []stream.Record, fn scanFunc) {
	workers := min(runtime.GOMAXPROCS(0), len(recs)/minRecordsPerWorker)
	if workers <= 1 {
		for _, r := range recs {
			sc.one(e, r, fn)
		}
		return
	}
	if len(sc.workers) < workers {
		sc.workers = make([]Findings, workers)
	}
	results := make([]scanned, len(recs))
	var wg sync.WaitGroup
	for w := range workers {
		f := &sc.workers[w]
		f.Reset()
		lo, hi := w*len(recs)/workers, (w+1)*len(recs)/workers
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				results[i] = e.scan(recs[i].Value, f)
				results[i].worker = w
			}
		})
	}
	wg.Wait()
	for w := range workers {
		e.stats.Add(&sc.workers[w].Stats)
	}
	for i, r := range results {
		f := &sc.workers[r.worker]
		fn(recs[i], f.Events[r.events:r.events2], f.Rejected[r.rejected:r.rejected2], r)
	}
}

// minRecordsPerWorker keeps small batches on the calling goroutine, where
// starting goroutines would cost more than it saves.
const minRecordsPerWorker = 64
