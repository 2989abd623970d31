package loadreport

import (
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"time"
)

// The page is laid out on a fixed grid, in CSS pixels, so that it looks the
// same everywhere and the screenshot test knows where each plot is.
const (
	headerHeight = 250
	gridGap      = 20
	chartsHeight = 2*chartHeight + 3*gridGap
	maxSlowest   = 10
)

//go:embed page.html.tmpl
var pageSource string

// pageTemplate escapes every value by context: user principal names come
// from the sign-in stream, which an attacker can write to.
var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"count":   count,
	"fixed":   func(digits int, v float64) string { return strconv.FormatFloat(v, 'f', digits, 64) },
	"ms":      optionalMs,
	"seconds": func(ms float64) float64 { return ms / 1e3 },
	"mb":      func(bytes int64) float64 { return float64(bytes) / 1e6 },
	"utc":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
}).Parse(pageSource))

// page is what the template renders.
type page struct {
	*Report
	Geo          geometry
	Charts       []chart
	Slowest      []WindowLatency
	HeaderHeight int
	ChartsHeight int
}

// WriteHTML writes the report as one self-contained HTML page: inline CSS
// and SVG, no script, nothing fetched.
func (r *Report) WriteHTML(w io.Writer) error {
	p := page{Report: r, Geo: geo, Charts: r.charts(), Slowest: r.slowest(), HeaderHeight: headerHeight, ChartsHeight: chartsHeight}
	if err := pageTemplate.Execute(w, p); err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	return nil
}

// charts lays out the four charts, sharing one time axis: throughput, lag,
// and the early and final latency of each window at the time its revision
// was received.
func (r *Report) charts() []chart {
	xMax := r.DurationSeconds
	var produced, consumed, committed, processing, early, final []xy
	for _, p := range r.Series {
		produced = append(produced, xy{p.Seconds, p.ProducedMessagesPerSecond})
		consumed = append(consumed, xy{p.Seconds, p.ConsumedMessagesPerSecond})
		committed = append(committed, xy{p.Seconds, float64(p.CommittedLag)})
		if r.Settings.InProcess {
			processing = append(processing, xy{p.Seconds, float64(p.ProcessingLag)})
		}
	}
	for _, w := range r.Windows {
		if w.EarlyMs != nil {
			at := w.FirstProducedSeconds + *w.EarlyMs/1e3
			early, xMax = append(early, xy{at, *w.EarlyMs}), max(xMax, at)
		}
		if w.FinalMs != nil {
			at := w.LastProducedSeconds + *w.FinalMs/1e3
			final, xMax = append(final, xy{at, *w.FinalMs / 1e3}), max(xMax, at)
		}
	}
	consumedName := "consumed by the detector"
	if r.Consumed.Source == sourceCommits {
		consumedName = "committed by the detector"
	}
	lags := []series{{name: "committed lag", colour: colourCommitted, points: committed}}
	if r.Settings.InProcess {
		lags = append(lags, series{name: "processing lag", colour: colourProcessing, points: processing})
	}
	charts := []chart{
		newChart("Throughput", "messages/s", xMax,
			series{name: "produced", colour: colourProduced, points: produced},
			series{name: consumedName, colour: colourConsumed, points: consumed}),
		newChart("Consumer lag", "messages", xMax, lags...),
		newChart("Early alert latency", "ms", xMax, series{name: "revision 1", colour: colourEarly, dots: true, points: early}),
		newChart("Final alert latency", "s", xMax, series{name: "final revision", colour: colourFinal, dots: true, points: final}),
	}
	for i := range charts {
		charts[i].Left = gridGap + (i%2)*(chartWidth+gridGap)
		charts[i].Top = gridGap + (i/2)*(chartHeight+gridGap)
	}
	return charts
}

// slowest returns the windows with the longest final latency, then those
// without a final revision at all.
func (r *Report) slowest() []WindowLatency {
	ws := slices.Clone(r.Windows)
	slices.SortStableFunc(ws, func(a, b WindowLatency) int {
		switch {
		case a.FinalMs == nil && b.FinalMs == nil:
			return 0
		case a.FinalMs == nil:
			return -1
		case b.FinalMs == nil:
			return 1
		}
		return cmp.Compare(*b.FinalMs, *a.FinalMs)
	})
	return ws[:min(maxSlowest, len(ws))]
}

// count renders a count with thousands separators; a rate is rounded.
func count(v any) string {
	var n int64
	switch v := v.(type) {
	case int:
		n = int64(v)
	case int64:
		n = v
	case float64:
		n = int64(math.Round(v))
	default:
		return fmt.Sprint(v)
	}
	s := strconv.FormatInt(n, 10)
	start := 0
	if n < 0 {
		start = 1
	}
	for i := len(s) - 3; i > start; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func optionalMs(v *float64) string {
	if v == nil {
		return "never"
	}
	return strconv.FormatFloat(*v, 'f', 1, 64) + " ms"
}
