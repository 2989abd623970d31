package detector

import (
	"errors"
	"fmt"
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
	// MaxRecordBytes bounds every record the detector writes, key, value
	// and headers: an alert is cut to fit (Alert.Render), as is the row of
	// an internal alert record; a qualifying sign-in whose routed record
	// would not fit is dead-lettered as too-large, and a dead letter keeps
	// only the head of a message that does not fit. Zero means
	// DefaultMaxRecordBytes; set it from the alerts topic's
	// max.message.bytes.
	MaxRecordBytes int
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
	// MaxFutureSkew is how far ahead of the wall clock an event time may
	// be: a qualifying sign-in dated further ahead is dead-lettered as
	// future-time and touches nothing (no window, watermark, commit pin,
	// incident or budget), and no event time beyond it moves the
	// watermark. Zero means 1m.
	MaxFutureSkew time.Duration
	// MemoryBudget bounds the bytes of state (windows with their Ids and
	// sets, revisions waiting for their incident, incidents) of the whole
	// process: scaled out, each shard gets an equal share of it for every
	// partition of the repartition topic, so that the shards an instance
	// owns together stay within it whichever they are. Past it, qualifying
	// sign-ins that need more state are dead-lettered as state-full. Zero
	// means 256 MiB.
	MemoryBudget int64
	// KeyedInput says every user's sign-ins arrive on one input partition
	// (the input is keyed by user). An Engine then closes each partition's
	// windows by that partition's own progress, so one that lags holds
	// back only its users. Without it an Engine
	// keeps one set of windows over all its partitions, closed by their
	// least progress: right for one instance over unkeyed input.
	KeyedInput bool
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
	if c.MaxRecordBytes <= 0 {
		c.MaxRecordBytes = DefaultMaxRecordBytes
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
	if c.MaxFutureSkew <= 0 {
		c.MaxFutureSkew = time.Minute
	}
	if c.MemoryBudget <= 0 {
		c.MemoryBudget = defaultMemoryBudget
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
	if c.MaxRecordBytes != 0 && c.MaxRecordBytes < MinMaxRecordBytes {
		return fmt.Errorf("live: the record limit of %d bytes is below the least of %d", c.MaxRecordBytes, MinMaxRecordBytes)
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
	// Internal holds records for the repartition topic (scaled out);
	// Markers the progress markers, which go after them.
	Internal []stream.Record
	Markers  []stream.Record
}

// append adds o's output after out's.
func (out *Output) append(o *Output) {
	out.Alerts = append(out.Alerts, o.Alerts...)
	out.Causes = append(out.Causes, o.Causes...)
	out.Incidents = append(out.Incidents, o.Incidents...)
	out.DeadLetters = append(out.DeadLetters, o.DeadLetters...)
	out.Internal = append(out.Internal, o.Internal...)
	out.Markers = append(out.Markers, o.Markers...)
}

// Reset empties o for reuse.
func (o *Output) Reset() {
	o.Alerts = o.Alerts[:0]
	o.Causes = o.Causes[:0]
	o.Incidents = o.Incidents[:0]
	o.DeadLetters = o.DeadLetters[:0]
	o.Internal = o.Internal[:0]
	o.Markers = o.Markers[:0]
}

func (o *Output) add(a Alert, cause time.Time) {
	o.Alerts = append(o.Alerts, a)
	o.Causes = append(o.Causes, cause)
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

// future reports whether an event time is further ahead of the wall clock
// than the allowed skew: a forged or broken clock, to be refused.
func (sh *shared) future(t, now time.Time) bool {
	if t.After(now.Add(sh.cfg.MaxFutureSkew)) {
		sh.stats.reject(ReasonFutureTime, 1)
		return true
	}
	return false
}

// refusedDetail explains the reasons qualifying sign-ins of one message
// were refused.
func refusedDetail(reasons []string) string {
	return "qualifying sign-in not held (" + strings.Join(reasons, ",") + "): dated too far ahead of the clock (future-time), for a window no longer held (too-late), or past the memory budget (state-full)"
}

func deadLetter(rec stream.Record, reason, detail string, raw []byte) stream.DeadLetter {
	return stream.DeadLetter{
		Reason: reason, Detail: detail, Source: rec.Topic, Partition: rec.Partition,
		Position: rec.Offset, Raw: raw, Size: int64(len(raw)),
	}
}
