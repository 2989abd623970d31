package detector

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/window"
)

// BatchConfig configures a run over bounded input (a file): every window
// closes at the end of the input and alerts are final.
type BatchConfig struct {
	Rule      *Rule
	Allowlist *NetworkAllowlist
	Format    Format
	// FullDecode decodes every record instead of prefiltering (slower).
	FullDecode bool
	// Workers scan chunks in parallel; zero means GOMAXPROCS.
	Workers int
	// ChunkSize is the bytes of whole lines a worker takes at once; zero
	// means 1 MiB.
	ChunkSize int
	// MaxMessageBytes rejects longer lines as too-large; zero means 1 MiB,
	// the largest message Event Hubs accepts.
	MaxMessageBytes int
	// MaxAlertBytes keeps every alert, as an alerts topic would take it, at
	// most this large (see Alert.Render); zero means DefaultMaxRecordBytes.
	MaxAlertBytes int
	// WindowOffset shifts the hourly grid from the UTC epoch.
	WindowOffset time.Duration
	Limits       Limits
	// Source names the input in dead letters.
	Source string
	// Now stamps ProcessedAt; nil means time.Now.
	Now func() time.Time
}

// DeadLetterSink receives rejected input.
type DeadLetterSink interface {
	Write(stream.DeadLetter) error
}

func (c *BatchConfig) withDefaults() BatchConfig {
	d := *c
	if d.Workers <= 0 {
		d.Workers = runtime.GOMAXPROCS(0)
	}
	if d.ChunkSize <= 0 {
		d.ChunkSize = 1 << 20
	}
	if d.MaxMessageBytes <= 0 {
		d.MaxMessageBytes = 1 << 20
	}
	if d.Format == "" {
		d.Format = FormatSentinel
	}
	return d
}

// Validate reports a configuration that cannot run.
func (c *BatchConfig) Validate() error {
	if c.Rule == nil {
		return errors.New("batch: no rule")
	}
	if c.Workers < 0 || c.ChunkSize < 0 || c.MaxMessageBytes < 0 {
		return errors.New("batch: workers, chunk size and max message bytes must not be negative")
	}
	if c.MaxAlertBytes != 0 && c.MaxAlertBytes < MinMaxRecordBytes {
		return fmt.Errorf("batch: the alert limit of %d bytes is below the least of %d", c.MaxAlertBytes, MinMaxRecordBytes)
	}
	return (window.Aligner{Size: c.Rule.QueryPeriod, Offset: c.WindowOffset}).Validate()
}

// chunkResult is what a worker found in one chunk.
type chunkResult struct {
	chunk    stream.Chunk
	lines    int64
	findings Findings
}

// RunBatch evaluates the rule over in, one message per line, and writes one
// alert per line to alerts. Rejected input goes to dead (which may be nil)
// and is counted in the returned Stats. Memory stays bounded whatever the
// input size: lines are read in chunks that workers scan in parallel, and
// only qualifying sign-ins are kept.
func RunBatch(ctx context.Context, cfg BatchConfig, in io.Reader, alerts io.Writer, dead DeadLetterSink) (*Stats, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	// Enough chunks in flight that reading overlaps scanning even on one
	// core, few enough that memory stays small.
	inFlight := min(max(2*cfg.Workers+2, 6), 16)
	chunker := stream.NewLineChunker(in, cfg.ChunkSize, cfg.MaxMessageBytes, inFlight)
	sc := &Scanner{Rule: cfg.Rule, Allowlist: cfg.Allowlist, FullDecode: cfg.FullDecode, MaxMessageBytes: cfg.MaxMessageBytes}

	g, ctx := errgroup.WithContext(ctx)
	work := make(chan stream.Chunk, inFlight)
	done := make(chan *chunkResult, inFlight)
	g.Go(func() error {
		defer close(work)
		for {
			ch, err := chunker.Next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			select {
			case work <- ch:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	})
	workers, wctx := errgroup.WithContext(ctx)
	for range cfg.Workers {
		workers.Go(func() error {
			for ch := range work {
				r := &chunkResult{chunk: ch}
				r.lines = int64(scanLines(sc, ch.Data, &r.findings))
				select {
				case done <- r:
				case <-wctx.Done():
					return wctx.Err()
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(done)
		return workers.Wait()
	})

	agg := newAggregator(cfg, dead)
	g.Go(func() error {
		pending := make(map[uint64]*chunkResult)
		var next uint64
		for r := range done {
			pending[r.chunk.Seq] = r
			for r, ok := pending[next]; ok; r, ok = pending[next] {
				delete(pending, next)
				next++
				err := agg.chunk(r)
				chunker.Release(r.chunk)
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return &agg.stats, err
	}
	if err := agg.finish(alerts, cfg.Format); err != nil {
		return &agg.stats, err
	}
	return &agg.stats, nil
}

// scanLines scans each line of data and returns the number of lines; a
// line's index in f is its position within data.
func scanLines(sc *Scanner, data []byte, f *Findings) int {
	i := 0
	for ; len(data) > 0; i++ {
		line := data
		if j := bytes.IndexByte(data, '\n'); j >= 0 {
			line, data = data[:j], data[j+1:]
		} else {
			data = nil
		}
		sc.Scan(line, i, f)
	}
	return i
}

// aggregator is the single owner of the windows in a batch run.
type aggregator struct {
	cfg    BatchConfig
	dead   DeadLetterSink
	stats  Stats
	line   int64 // lines before the current chunk
	win    *window.Tumbling[string, *Summary]
	emit   *Emitter
	alerts int
}

func newAggregator(cfg BatchConfig, dead DeadLetterSink) *aggregator {
	align := window.Aligner{Size: cfg.Rule.QueryPeriod, Offset: cfg.WindowOffset}
	return &aggregator{
		cfg:  cfg,
		dead: dead,
		win: window.New(align, 0, func(upn string, _ window.Bounds) *Summary {
			return NewSummary(upn, cfg.Limits)
		}),
		emit: NewEmitter(cfg.Rule, cfg.Now),
	}
}

// chunk folds one chunk's findings in, in input order.
func (a *aggregator) chunk(r *chunkResult) error {
	a.stats.Add(&r.findings.Stats)
	if o := r.chunk.Oversized; o != nil {
		r.lines = 1
		a.stats.Messages++
		a.stats.Bytes += o.Size
		a.stats.RejectedMessages++
		a.stats.reject(ReasonTooLarge, 1)
		rej := tooLarge(o.Size, a.cfg.MaxMessageBytes)
		if err := a.deadLetter(stream.DeadLetter{
			Reason: rej.Reason, Detail: rej.Detail,
			Position: a.line + 1, Raw: o.Head, Size: o.Size, Truncated: true,
		}); err != nil {
			return err
		}
	}
	for _, rej := range r.findings.Rejected {
		if err := a.deadLetter(stream.DeadLetter{
			Reason: rej.Reason, Detail: rej.Detail, Position: a.line + int64(rej.Message) + 1,
			Raw: rej.Raw, Size: int64(len(rej.Raw)),
		}); err != nil {
			return err
		}
	}
	for i := range r.findings.Events {
		s := &r.findings.Events[i]
		acc, _, _, _ := a.win.Get(s.UserPrincipalName, s.TimeGenerated)
		if acc.Add(s) == Duplicate {
			a.stats.Duplicates++
		}
	}
	a.line += r.lines
	return nil
}

func (a *aggregator) deadLetter(dl stream.DeadLetter) error {
	if a.dead == nil {
		return nil
	}
	dl.Source = a.cfg.Source
	return a.dead.Write(dl)
}

// finish closes every window (the input is bounded) and writes the alerts.
func (a *aggregator) finish(out io.Writer, format Format) error {
	w := bufio.NewWriterSize(out, 1<<16)
	for _, alert := range a.emit.Final(a.win.Advance(maxTime)) {
		_, b, err := alert.Render(format, a.cfg.MaxAlertBytes)
		if err != nil {
			return fmt.Errorf("render alert %s: %w", alert.AlertId, err)
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("write alerts: %w", err)
		}
		a.alerts++
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write alerts: %w", err)
	}
	return nil
}
