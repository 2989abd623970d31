package detector

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/window"
)

// LiveConfig configures the streaming detector: the rule over an unbounded
// stream of messages, with windows closed by a watermark. Zero values take
// the defaults given.
type LiveConfig struct {
	Rule      *Rule
	Allowlist *NetworkAllowlist
	// FullDecode decodes every record instead of prefiltering.
	FullDecode bool
	// MaxMessageBytes rejects longer messages; zero means 1 MiB.
	MaxMessageBytes int
	// WindowOffset shifts the window grid from the UTC epoch.
	WindowOffset time.Duration
	// Lateness is how far behind the watermark events may arrive and still
	// be part of a window's final alert; zero means 5m.
	Lateness time.Duration
	// IdleTimeout is how long a partition may go without records before it
	// stops holding the watermark back; when every partition is idle, event
	// time advances with the wall clock. Zero means 1m.
	IdleTimeout time.Duration
	// Retention is how long past its close a window's state is kept so that
	// late events amend its alert; later ones are dead-lettered as too-late.
	// Zero means 1h.
	Retention time.Duration
	// UpdateInterval is the least event time between two update revisions of
	// one alert; zero means 5m.
	UpdateInterval time.Duration
	// OrderQuiet is, when scaled out, how long an input partition with
	// nothing more on the broker must be silent before it stops holding
	// sign-ins of other partitions back from being applied in event-time
	// order; zero means 500ms. Longer makes the order of a run proof
	// against longer stalls of the input's producers, and a sign-in wait
	// that long when another partition has gone quiet behind it.
	OrderQuiet time.Duration
	// MaxFutureSkew ignores, for the watermark, event times further than this
	// ahead of the wall clock (a forged timestamp must not close every
	// window); zero means 1h.
	MaxFutureSkew time.Duration
	// MaxWindows caps the open (user, window) states; past it, qualifying
	// sign-ins of users without state are dead-lettered as state-full (and
	// counted) rather than growing memory. Zero means 100000.
	MaxWindows int
	Limits     Limits
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
}

// Config is the tunable part of the rule: the rule file (its allowlists
// above all) and the NetworkAllowlist, with a version naming their content.
type Config struct {
	Rule      *Rule
	Allowlist *NetworkAllowlist
	Version   string
}

// Reject reasons of state and time.
const (
	// ReasonStateFull: a qualifying sign-in that needs state the memory
	// budget has no room for.
	ReasonStateFull = "state-full"
	// ReasonFutureTime: a qualifying sign-in dated further ahead of the
	// wall clock than the allowed skew; it touches nothing.
	ReasonFutureTime = "future-time"
)

func (c LiveConfig) withDefaults() LiveConfig {
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 1 << 20
	}
	if c.Lateness <= 0 {
		c.Lateness = 5 * time.Minute
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = time.Minute
	}
	if c.Retention <= 0 {
		c.Retention = time.Hour
	}
	if c.UpdateInterval <= 0 {
		c.UpdateInterval = 5 * time.Minute
	}
	if c.OrderQuiet <= 0 {
		c.OrderQuiet = 500 * time.Millisecond
	}
	if c.MaxFutureSkew <= 0 {
		c.MaxFutureSkew = time.Hour
	}
	if c.MaxWindows <= 0 {
		c.MaxWindows = 100000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports a configuration the engine cannot run.
func (c LiveConfig) Validate() error {
	if c.Rule == nil {
		return errors.New("live: no rule")
	}
	if c.Rule.Aggregation == SingleAlert {
		return errors.New("live: the rule's eventGroupingSettings.aggregationKind is SingleAlert; streaming raises one alert per user and window (AlertPerResult); use detect for SingleAlert")
	}
	if c.Lateness < 0 || c.IdleTimeout < 0 || c.Retention < 0 || c.UpdateInterval < 0 {
		return errors.New("live: lateness, idle timeout, retention and update interval must not be negative")
	}
	return (window.Aligner{Size: c.Rule.QueryPeriod, Offset: c.WindowOffset}).Validate()
}

// Output is what the engine asks its caller to publish, in order.
type Output struct {
	Alerts []Alert
	// Causes holds, for each alert, the Kafka timestamp of the record that
	// caused it (zero for closes by the watermark or the clock).
	Causes      []time.Time
	Incidents   []Incident
	DeadLetters []stream.DeadLetter
}

// Reset empties o for reuse.
func (o *Output) Reset() {
	o.Alerts = o.Alerts[:0]
	o.Causes = o.Causes[:0]
	o.Incidents = o.Incidents[:0]
	o.DeadLetters = o.DeadLetters[:0]
}

// Engine is the streaming detector's state: windows per user, the alert
// lifecycle of SPEC section 4, the watermark of section 3, and what offsets
// are safe to commit. It does no I/O and one goroutine owns it. Its output
// is a function of the records in the order given (and, for windows closed
// by silence, of the wall clock), so replaying one partition's records
// re-creates the same alert revisions. It suits input keyed by user (or a
// single instance); Router and Shard scale out unkeyed input.
type Engine struct {
	*shared
	lc       lifecycle
	parts    map[stream.TopicPartition]*partitionState
	scanning scanning
	last     time.Time // wall time of the latest record
	maxEvent time.Time // latest event time seen on any partition
}

// shared is what the parts of one detector have in common: configuration,
// the scanner, the emitter (and its incidents), counts and the version of
// the configuration recorded in every alert.
type shared struct {
	cfg     LiveConfig
	sc      Scanner
	emit    *Emitter
	stats   Stats
	version string
}

func newShared(cfg LiveConfig) (*shared, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &shared{
		cfg:  cfg,
		sc:   Scanner{Rule: cfg.Rule, Allowlist: cfg.Allowlist, FullDecode: cfg.FullDecode, MaxMessageBytes: cfg.MaxMessageBytes},
		emit: NewEmitter(cfg.Rule, cfg.Now),
	}, nil
}

// partitionState tracks one assigned partition.
type partitionState struct {
	maxEvent    time.Time // latest event time seen
	lastArrival time.Time // wall time of the latest record
	next        int64     // offset after the latest record; -1 before any
}

// NewEngine returns an engine; cfg must be valid.
func NewEngine(cfg LiveConfig) (*Engine, error) {
	sh, err := newShared(cfg)
	if err != nil {
		return nil, err
	}
	return &Engine{shared: sh, lc: newLifecycle(sh), parts: make(map[stream.TopicPartition]*partitionState)}, nil
}

// Reconfigure swaps the rule and the network allowlist while keeping every
// window: later sign-ins are evaluated with the new lists, and alerts name
// the new version. A rule that changes the window size, the rule id or the
// aggregation is refused: windows already open were cut by the old one.
func (e *shared) Reconfigure(c Config) error {
	old := e.cfg.Rule
	switch {
	case c.Rule == nil:
		return errors.New("reconfigure: no rule")
	case c.Rule.ID != old.ID:
		return fmt.Errorf("reconfigure: rule id %q differs from %q: restart to change rules", c.Rule.ID, old.ID)
	case c.Rule.QueryPeriod != old.QueryPeriod:
		return fmt.Errorf("reconfigure: queryPeriod %s differs from %s: restart to change the window", c.Rule.QueryPeriod, old.QueryPeriod)
	case c.Rule.Aggregation != old.Aggregation:
		return fmt.Errorf("reconfigure: aggregationKind %s differs from %s: restart to change it", c.Rule.Aggregation, old.Aggregation)
	}
	e.cfg.Rule, e.cfg.Allowlist = c.Rule, c.Allowlist
	e.sc.Rule, e.sc.Allowlist = c.Rule, c.Allowlist
	e.emit.rule = c.Rule
	e.version = c.Version
	return nil
}

// SetVersion names the configuration the engine started with.
func (e *shared) SetVersion(v string) { e.version = v }

// Stats returns the counts so far.
func (e *shared) Stats() *Stats { return &e.stats }

// Watermark returns the time through which windows are closed.
func (e *Engine) Watermark() time.Time { return e.lc.watermark }

// OpenWindows returns the number of open (user, window) states.
func (e *Engine) OpenWindows() int { return e.lc.win.OpenWindows() }

// Assign starts tracking partitions; records of unassigned partitions are
// tracked on first sight too.
func (e *Engine) Assign(tps ...stream.TopicPartition) {
	now := e.cfg.Now()
	for _, tp := range tps {
		if _, ok := e.parts[tp]; !ok {
			e.parts[tp] = &partitionState{next: -1, lastArrival: now}
		}
	}
}

// Revoke stops tracking partitions: they no longer hold the watermark back
// or appear in Committable. Window state they fed is kept.
func (e *Engine) Revoke(tps ...stream.TopicPartition) {
	for _, tp := range tps {
		delete(e.parts, tp)
	}
}

// Ingest evaluates one consumed record and adds what it produces to out.
func (e *Engine) Ingest(rec stream.Record, out *Output) {
	e.scanning.one(e.shared, rec, func(rec stream.Record, events []SignIn, rejected []Rejected, s scanned) {
		e.absorb(rec, events, rejected, s, out)
	})
}

// IngestBatch is Ingest for many records: it scans them in parallel on up
// to GOMAXPROCS goroutines (the Scanner is read-only), then applies them to
// the windows one by one in order, so the result is Ingest's.
func (e *Engine) IngestBatch(recs []stream.Record, out *Output) {
	e.scanning.all(e.shared, recs, func(rec stream.Record, events []SignIn, rejected []Rejected, s scanned) {
		e.absorb(rec, events, rejected, s, out)
	})
}

// absorb applies one scanned record: partition progress, dead letters, and
// its qualifying sign-ins to their windows.
func (e *Engine) absorb(rec stream.Record, events []SignIn, rejected []Rejected, s scanned, out *Output) {
	now := e.cfg.Now()
	tp := stream.TopicPartition{Topic: rec.Topic, Partition: rec.Partition}
	p := e.parts[tp]
	if p == nil {
		p = &partitionState{}
		e.parts[tp] = p
	}
	p.lastArrival, p.next, e.last = now, rec.Offset+1, now
	e.lc.cause = rec.Timestamp
	if s.hasTime {
		e.observe(p, s.time, now)
	}
	for _, rej := range rejected {
		// The dead letter keeps the whole message: the original bytes.
		out.DeadLetters = append(out.DeadLetters, deadLetter(rec, rej.Reason, rej.Detail, rec.Value))
	}
	var refused []string
	for i := range events {
		ev := &events[i]
		e.observe(p, ev.TimeGenerated, now)
		if reason := e.lc.apply(ev, tp, rec.Offset, out); reason != "" {
			refused = append(refused, reason)
		}
	}
	if len(refused) > 0 {
		// One dead letter per message, whatever the number of its records.
		slices.Sort(refused)
		refused = slices.Compact(refused)
		out.DeadLetters = append(out.DeadLetters, deadLetter(rec, refused[0],
			"qualifying sign-in for a window no longer held: "+strings.Join(refused, ","), rec.Value))
	}
	e.advance(now, out)
	e.lc.cause = time.Time{} // closes by Tick have no causing record
}

// Tick advances the watermark by the wall clock: windows close under total
// silence no later than end + lateness + idle timeout.
func (e *Engine) Tick(out *Output) { e.advance(e.cfg.Now(), out) }

func (e *Engine) observe(p *partitionState, t, now time.Time) {
	if t.After(now.Add(e.cfg.MaxFutureSkew)) {
		return
	}
	if t.After(p.maxEvent) {
		p.maxEvent = t
	}
	if t.After(e.maxEvent) {
		e.maxEvent = t
	}
}

// advance moves the watermark by the event-time progress of the partitions.
func (e *Engine) advance(now time.Time, out *Output) {
	if event, ok := e.eventTimeProgress(now); ok {
		e.lc.close(event.Add(-e.cfg.Lateness), out)
	}
}

// eventTimeProgress is the event time the stream has reached: the least of
// the latest event times of the partitions that are not idle (none while a
// partition that is not idle has shown no event time yet); when all are
// idle, the latest event time seen plus the wall time since the idle
// timeout expired.
func (e *Engine) eventTimeProgress(now time.Time) (time.Time, bool) {
	var least time.Time
	active := false
	for _, p := range e.parts {
		if now.Sub(p.lastArrival) >= e.cfg.IdleTimeout {
			continue
		}
		if p.maxEvent.IsZero() {
			// Assigned, not idle yet, and no event time known: it may still
			// deliver the oldest records of all.
			return time.Time{}, false
		}
		if !active || p.maxEvent.Before(least) {
			least, active = p.maxEvent, true
		}
	}
	if active {
		return least, true
	}
	if e.maxEvent.IsZero() {
		return time.Time{}, false
	}
	silent := now.Sub(e.last) - e.cfg.IdleTimeout
	if silent <= 0 {
		return time.Time{}, false
	}
	return e.maxEvent.Add(silent), true
}

// Committable returns, per tracked partition, the next offset that may be
// committed: past every record consumed, except those whose effect lives
// only in memory (window state that a restart must rebuild by replay).
func (e *Engine) Committable() map[stream.TopicPartition]int64 {
	out := make(map[stream.TopicPartition]int64, len(e.parts))
	for tp, p := range e.parts {
		if p.next >= 0 {
			out[tp] = p.next
		}
	}
	e.lc.pinned(out)
	return out
}

func deadLetter(rec stream.Record, reason, detail string, raw []byte) stream.DeadLetter {
	return stream.DeadLetter{
		Reason: reason, Detail: detail, Source: rec.Topic, Partition: rec.Partition,
		Position: rec.Offset, Raw: raw, Size: int64(len(raw)),
	}
}
