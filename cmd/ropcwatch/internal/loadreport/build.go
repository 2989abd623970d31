package loadreport

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/ropcwatch/ropcwatch/detector/synth"
)

const maxDifferences = 10

// Sources of a Throughput.
const (
	sourceReplayer = "replayer acknowledgements"
	sourceDetector = "detector"
	sourceCommits  = "committed offsets"
)

// Build derives the report from what a run measured.
func Build(r Run) Report {
	rep := Report{Settings: r.Settings}
	if n := len(r.Samples); n > 0 {
		rep.DurationSeconds = r.Samples[n-1].At.Seconds()
	}
	perMessage := 0.0
	if r.Produced.Messages > 0 {
		perMessage = float64(r.Settings.SignIns) / float64(r.Produced.Messages)
	}
	rep.Produced = throughput(r.Produced, perMessage, sourceReplayer)
	if r.Consumed.Messages > 0 {
		rep.Consumed = throughput(r.Consumed, perMessage, sourceDetector)
	} else {
		rep.Consumed = throughput(committedFlow(r.Samples), perMessage, sourceCommits)
	}
	rep.Series = points(r.Samples, r.Settings.InProcess)
	rep.Lag = lagOf(rep.Series)
	rep.Windows, rep.Latency = latencies(r.Windows)
	rep.Correctness = correctness(r.Expected, r.Diff)
	return rep
}

func throughput(f Flow, perMessage float64, source string) Throughput {
	t := Throughput{
		Messages: f.Messages, Bytes: f.Bytes, Source: source,
		SignIns: int64(math.Round(float64(f.Messages) * perMessage)),
		Seconds: round((f.To - f.From).Seconds(), 3),
	}
	if t.Seconds > 0 {
		t.MessagesPerSecond = round(float64(t.Messages)/t.Seconds, 1)
		t.SignInsPerSecond = round(float64(t.SignIns)/t.Seconds, 1)
		t.MBPerSecond = round(float64(t.Bytes)/1e6/t.Seconds, 3)
	}
	return t
}

// committedFlow is the consumption that the committed offsets show: the
// count reached, from the last sample before any progress to the first
// sample at the final count.
func committedFlow(samples []Sample) Flow {
	var f Flow
	if len(samples) == 0 {
		return f
	}
	f.Count = samples[len(samples)-1].Consumed
	for i, s := range samples {
		if s.Consumed.Messages == 0 {
			f.From = s.At
		}
		if s.Consumed.Messages == f.Messages && (i == 0 || samples[i-1].Consumed.Messages < f.Messages) {
			f.To = s.At
		}
	}
	return f
}

func points(samples []Sample, processing bool) []Point {
	points := make([]Point, len(samples))
	var prev Sample
	for i, s := range samples {
		p := Point{Seconds: round(s.At.Seconds(), 3), CommittedLag: s.CommittedLag}
		if dt := (s.At - prev.At).Seconds(); dt > 0 {
			p.ProducedMessagesPerSecond = round(float64(s.Produced.Messages-prev.Produced.Messages)/dt, 1)
			p.ConsumedMessagesPerSecond = round(float64(s.Consumed.Messages-prev.Consumed.Messages)/dt, 1)
			p.ProducedMBPerSecond = round(float64(s.Produced.Bytes-prev.Produced.Bytes)/1e6/dt, 3)
			p.ConsumedMBPerSecond = round(float64(s.Consumed.Bytes-prev.Consumed.Bytes)/1e6/dt, 3)
		}
		if processing {
			p.ProcessingLag = max(0, s.Produced.Messages-s.Consumed.Messages)
		}
		points[i] = p
		prev = s
	}
	return points
}

func lagOf(points []Point) Lag {
	var l Lag
	for _, p := range points {
		if p.CommittedLag > l.MaxCommitted {
			l.MaxCommitted, l.MaxCommittedAtSeconds = p.CommittedLag, p.Seconds
		}
		l.MaxProcessing = max(l.MaxProcessing, p.ProcessingLag)
		l.LastCommitted = p.CommittedLag
	}
	return l
}

// latencies returns each window's latencies, by window end then user, and
// their percentiles.
func latencies(windows []Window) ([]WindowLatency, Latency) {
	sorted := slices.Clone(windows)
	slices.SortFunc(sorted, func(a, b Window) int {
		return cmp.Or(a.WindowEnd.Compare(b.WindowEnd), cmp.Compare(a.UserPrincipalName, b.UserPrincipalName))
	})
	out := make([]WindowLatency, len(sorted))
	var early, final []float64
	var lat Latency
	for i, w := range sorted {
		out[i] = WindowLatency{
			UserPrincipalName: w.UserPrincipalName, WindowEnd: w.WindowEnd.UTC(),
			FirstProducedSeconds: round(w.FirstProduced.Seconds(), 3), LastProducedSeconds: round(w.LastProduced.Seconds(), 3),
		}
		if w.Early != Never {
			v := ms(w.Early - w.FirstProduced)
			out[i].EarlyMs, early = &v, append(early, v)
		} else {
			lat.Early.Missing++
		}
		if w.Final != Never {
			v := ms(w.Final - w.LastProduced)
			out[i].FinalMs, final = &v, append(final, v)
		} else {
			lat.Final.Missing++
		}
	}
	lat.Early = percentiles(early, lat.Early.Missing)
	lat.Final = percentiles(final, lat.Final.Missing)
	return out, lat
}

func correctness(expected int, d synth.Diff) Correctness {
	c := Correctness{Expected: expected, Matched: d.Matched, Missing: len(d.Missing), Extra: len(d.Extra), Wrong: len(d.Wrong)}
	for _, r := range d.Missing[:min(maxDifferences, len(d.Missing))] {
		c.Differences = append(c.Differences, Difference{Kind: "missing", WindowEnd: r.WindowEnd.UTC(), UserPrincipalName: r.UserPrincipalName, WantCount: r.Count})
	}
	for _, r := range d.Extra[:min(maxDifferences, len(d.Extra))] {
		c.Differences = append(c.Differences, Difference{Kind: "extra", WindowEnd: r.WindowEnd.UTC(), UserPrincipalName: r.UserPrincipalName, GotCount: r.Count})
	}
	for _, p := range d.Wrong[:min(maxDifferences, len(d.Wrong))] {
		c.Differences = append(c.Differences, Difference{Kind: "wrong", WindowEnd: p[0].WindowEnd.UTC(), UserPrincipalName: p[0].UserPrincipalName, WantCount: p[0].Count, GotCount: p[1].Count})
	}
	return c
}

// Clean reports whether the alerts held exactly the truth's rows.
func (c Correctness) Clean() bool { return c.Missing+c.Extra+c.Wrong == 0 }

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}

// ms converts to milliseconds, to the microsecond.
func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

func round(v float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(v*p) / p
}
