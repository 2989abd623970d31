// Package loadreport is the report of `ropcwatch loadtest`: the model of
// what one load test measured, the figures derived from it (throughput,
// consumer lag, alert latency percentiles, correctness against the
// generator's truth), and its renderings as JSON and as a self-contained
// HTML page with inline SVG charts.
//
// It is a package apart from the command that measures because it is pure:
// no Kafka, no clock, no goroutines. Its figures and charts are tested from
// known inputs, and the escaping of attacker-controlled strings (user
// principal names come from the sign-in stream) is confined to one
// html/template here.
package loadreport

import (
	"time"

	"github.com/ropcwatch/ropcwatch/detector/synth"
)

// Run is what one load test measured, as the command hands it over. Every
// duration named At, From or To is an offset from the start of the replay.
type Run struct {
	Settings Settings
	// Produced counts the messages the brokers acknowledged to the replayer.
	Produced Flow
	// Consumed counts the messages the detector processed. When Messages is
	// zero it is unknown (a detector in another process), and Build derives
	// it from the group's committed offsets in Samples.
	Consumed Flow
	// Samples are taken about once a second, in time order.
	Samples []Sample
	// Windows are the (user, window) pairs that qualifying sign-ins were
	// produced for, in any order.
	Windows []Window
	// Expected is the number of result rows of the generator's truth, and
	// Diff the comparison of the alerts' rows with it.
	Expected int
	Diff     synth.Diff
}

// Settings describe the run; they are echoed in the report.
type Settings struct {
	Command    string    // the command line, without secrets (flags never hold any)
	Started    time.Time // wall clock at the start of the replay
	Topic      string
	Partitions int
	Group      string // the detector's consumer group
	InProcess  bool   // the detector ran inside the load test
	SignIns    int64  // generated sign-in records, all categories
	// Lateness and IdleTimeout are the in-process detector's; empty for
	// a detector elsewhere.
	Lateness    string
	IdleTimeout string
}

// Count is a number of messages and their bytes.
type Count struct {
	Messages int64
	Bytes    int64
}

// Flow is a count of messages moved between the first and the last one.
type Flow struct {
	Count
	From, To time.Duration
}

// Sample is the state of the run at one moment.
type Sample struct {
	At time.Duration
	// Produced and Consumed are cumulative, as Run describes them; Consumed
	// is the committed progress of the group when the detector is elsewhere.
	Produced, Consumed Count
	// CommittedLag is the topic's end offsets minus the group's committed
	// offsets, summed over partitions.
	CommittedLag int64
}

// Never marks a revision that was not received.
const Never time.Duration = -1

// Window is one user's window as the load test saw it.
type Window struct {
	UserPrincipalName string
	WindowEnd         time.Time
	// FirstProduced and LastProduced are when the brokers acknowledged the
	// window's first and last qualifying sign-in to the load test's
	// producer; a redelivered sign-in (an Id the window already holds) does
	// not count.
	FirstProduced, LastProduced time.Duration
	// Early is the receipt of revision 1 of the window's alert; Final the
	// receipt of the first final or amended revision at or after
	// LastProduced. Never when not received.
	Early, Final time.Duration
}

// Report is the load test's result: what Build derives from a Run. It
// marshals to the JSON report.
type Report struct {
	Settings        Settings
	DurationSeconds float64 // from the start of the replay to the last sample
	Produced        Throughput
	Consumed        Throughput
	Lag             Lag
	Latency         Latency
	Correctness     Correctness
	// Series holds one point per sample: the rates over the interval that
	// ends at it, and the lags at it.
	Series  []Point
	Windows []WindowLatency
}

// Throughput is a sustained rate: a count over the time from the first to
// the last message.
type Throughput struct {
	Messages, Bytes int64
	// SignIns is Messages times the generated stream's mean sign-ins per
	// message.
	SignIns           int64
	Seconds           float64
	MessagesPerSecond float64
	SignInsPerSecond  float64
	MBPerSecond       float64 // 10^6 bytes
	// Source says where the count comes from: "replayer acknowledgements",
	// "detector" or "committed offsets".
	Source string
}

// Lag summarises the consumer lag samples, in messages.
type Lag struct {
	MaxCommitted          int64
	MaxCommittedAtSeconds float64
	LastCommitted         int64 // at the last sample
	// MaxProcessing is the most messages produced and not yet processed by
	// the detector; only known for a detector in process.
	MaxProcessing int64
}

// Latency holds the end-to-end alert latencies over windows.
type Latency struct {
	// Early: from the produce of the window's first qualifying sign-in to
	// the receipt of revision 1.
	Early Percentiles
	// Final: from the produce of the window's last qualifying sign-in to
	// the receipt of its final (or a later amended) revision.
	Final Percentiles
}

// Percentiles of latencies in milliseconds, by nearest rank: Pn is the
// smallest value that n% of the values are at or below.
type Percentiles struct {
	Count   int // windows measured
	Missing int // windows whose revision never came
	P50     float64
	P90     float64
	P99     float64
	Max     float64
}

// Correctness is the comparison of the alerts' final rows with the truth.
type Correctness struct {
	Expected, Matched, Missing, Extra, Wrong int
	// Differences lists up to maxDifferences rows of each kind.
	Differences []Difference
}

// Difference is one row that differs from the truth.
type Difference struct {
	Kind              string // missing, extra or wrong
	WindowEnd         time.Time
	UserPrincipalName string
	WantCount         int // sign-ins the truth holds; 0 for extra
	GotCount          int // sign-ins the alert holds; 0 for missing
}

// Point is one sample in the series of the charts.
type Point struct {
	Seconds                   float64
	ProducedMessagesPerSecond float64
	ConsumedMessagesPerSecond float64
	ProducedMBPerSecond       float64
	ConsumedMBPerSecond       float64
	CommittedLag              int64
	// ProcessingLag is produced minus processed messages; only known for a
	// detector in process, else zero.
	ProcessingLag int64
}

// WindowLatency is one window's latencies; null when the revision never came.
type WindowLatency struct {
	UserPrincipalName    string
	WindowEnd            time.Time
	FirstProducedSeconds float64
	LastProducedSeconds  float64
	EarlyMs              *float64
	FinalMs              *float64
}
