package loadreport

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/detector/synth"
)

var update = flag.Bool("update", false, "rewrite golden files from the current output")

// hostileUser is a user principal name an attacker chose for the page.
const hostileUser = `<script>alert("x")</script>@contoso.com`

// knownRun is a small run whose figures are worked out by hand in the
// tests: 100 messages of 40 kB (600 sign-ins) produced in 2 s and consumed
// in 4 s; ten windows whose early latencies are 1..10 ms and whose final
// latencies are 100..900 ms, the tenth never final.
func knownRun() Run {
	s := func(at float64, produced, consumed, lag int64) Sample {
		return Sample{
			At:       time.Duration(at * float64(time.Second)),
			Produced: Count{produced, produced * 40000}, Consumed: Count{consumed, consumed * 40000},
			CommittedLag: lag,
		}
	}
	r := Run{
		Settings: Settings{
			Command: "ropcwatch loadtest --in-process --generate 600", Started: time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC),
			Topic: "signins", Partitions: 3, Group: "ropcwatch", InProcess: true, SignIns: 600, Lateness: "10s", IdleTimeout: "5s",
		},
		Produced: Flow{Count: Count{100, 4e6}, From: 0, To: 2 * time.Second},
		Consumed: Flow{Count: Count{100, 4e6}, From: 500 * time.Millisecond, To: 4500 * time.Millisecond},
		Samples:  []Sample{s(1, 50, 10, 50), s(2, 100, 40, 100), s(3, 100, 70, 80), s(4, 100, 100, 30), s(5, 100, 100, 0)},
		Expected: 10,
	}
	end := time.Date(2026, 5, 1, 1, 0, 0, 0, time.UTC)
	for i := 1; i <= 10; i++ {
		first := time.Duration(i) * 300 * time.Millisecond
		w := Window{
			UserPrincipalName: "user" + string(rune('a'+i-1)) + "@contoso.com", WindowEnd: end,
			FirstProduced: first, LastProduced: first + 100*time.Millisecond,
			Early: first + time.Duration(i)*time.Millisecond,
			Final: first + 100*time.Millisecond + time.Duration(i)*100*time.Millisecond,
		}
		if i == 10 {
			w.UserPrincipalName, w.Final = hostileUser, Never
		}
		r.Windows = append(r.Windows, w)
	}
	row := func(upn string, count int) synth.TruthRow {
		return synth.TruthRow{WindowEnd: end, UserPrincipalName: upn, Count: count}
	}
	r.Diff = synth.Diff{
		Matched: 8,
		Missing: []synth.TruthRow{row(hostileUser, 2)},
		Wrong:   [][2]synth.TruthRow{{row("useri@contoso.com", 3), row("useri@contoso.com", 2)}},
	}
	return r
}

func TestBuildFromKnownInput(t *testing.T) {
	rep := Build(knownRun())
	checks := []struct {
		name      string
		got, want any
	}{
		{"produced throughput", rep.Produced, Throughput{Messages: 100, Bytes: 4e6, SignIns: 600, Seconds: 2, MessagesPerSecond: 50, SignInsPerSecond: 300, MBPerSecond: 2, Source: "replayer acknowledgements"}},
		{"consumed throughput", rep.Consumed, Throughput{Messages: 100, Bytes: 4e6, SignIns: 600, Seconds: 4, MessagesPerSecond: 25, SignInsPerSecond: 150, MBPerSecond: 1, Source: "detector"}},
		{"lag", rep.Lag, Lag{MaxCommitted: 100, MaxCommittedAtSeconds: 2, LastCommitted: 0, MaxProcessing: 60}},
		{"early latency", rep.Latency.Early, Percentiles{Count: 10, P50: 5, P90: 9, P99: 10, Max: 10}},
		{"final latency", rep.Latency.Final, Percentiles{Count: 9, Missing: 1, P50: 500, P90: 900, P99: 900, Max: 900}},
		{"duration", rep.DurationSeconds, 5.0},
		{"first point", rep.Series[0], Point{Seconds: 1, ProducedMessagesPerSecond: 50, ConsumedMessagesPerSecond: 10, ProducedMBPerSecond: 2, ConsumedMBPerSecond: 0.4, CommittedLag: 50, ProcessingLag: 40}},
		{"third point", rep.Series[2], Point{Seconds: 3, ProducedMessagesPerSecond: 0, ConsumedMessagesPerSecond: 30, ProducedMBPerSecond: 0, ConsumedMBPerSecond: 1.2, CommittedLag: 80, ProcessingLag: 30}},
		{"correctness", [5]int{rep.Correctness.Expected, rep.Correctness.Matched, rep.Correctness.Missing, rep.Correctness.Extra, rep.Correctness.Wrong}, [5]int{10, 8, 1, 0, 1}},
		{"clean", rep.Correctness.Clean(), false},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %+v, want %+v", c.got, c.want)
			}
		})
	}
}

func TestPercentilesByNearestRank(t *testing.T) {
	seq := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[n-1-i] = float64(i + 1) // descending: the order must not matter
		}
		return v
	}
	tests := []struct {
		name   string
		values []float64
		want   Percentiles
	}{
		{"no values give zeros", nil, Percentiles{}},
		{"one value is every percentile", []float64{7}, Percentiles{Count: 1, P50: 7, P90: 7, P99: 7, Max: 7}},
		{"ten values", seq(10), Percentiles{Count: 10, P50: 5, P90: 9, P99: 10, Max: 10}},
		{"a hundred values", seq(100), Percentiles{Count: 100, P50: 50, P90: 90, P99: 99, Max: 100}},
		{"one outlier reaches p99 of fifty", append(slices.Repeat([]float64{1}, 49), 1000), Percentiles{Count: 50, P50: 1, P90: 1, P99: 1000, Max: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentiles(tt.values, 0); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCommittedOffsetsStandInForAnUnknownConsumer(t *testing.T) {
	r := knownRun()
	r.Consumed = Flow{}
	r.Settings.InProcess = false
	for i := range r.Samples {
		r.Samples[i].Consumed.Bytes = 0
	}
	rep := Build(r)
	// Committed progress: 0 before t=0 (no sample at zero), 100 from t=4.
	want := Throughput{Messages: 100, SignIns: 600, Seconds: 4, MessagesPerSecond: 25, SignInsPerSecond: 150, Source: "committed offsets"}
	if rep.Consumed != want {
		t.Errorf("consumed = %+v, want %+v", rep.Consumed, want)
	}
	if rep.Lag.MaxProcessing != 0 || rep.Series[0].ProcessingLag != 0 {
		t.Errorf("processing lag reported without a detector in process: %+v", rep.Lag)
	}
}

func TestChartsFromKnownInput(t *testing.T) {
	rep := Build(knownRun())
	charts := rep.charts()
	if len(charts) != 4 {
		t.Fatalf("%d charts, want 4", len(charts))
	}
	// The time axis runs to 5 s (the last sample; the latest revision came
	// at 3.7 s). Throughput peaks at 50 messages/s, the top of its y axis:
	// the point (1 s, 50/s) is at x = 64 + 1/5 * 490, y = 290 - 250.
	tp := charts[0]
	if got, want := tp.Series[0].Points[0], (xy{162, 40}); got != want {
		t.Errorf("first produced point at %v, want %v", got, want)
	}
	if got := tp.Series[0].Polyline(); got != "162,40 260,40 358,290 456,290 554,290" {
		t.Errorf("produced polyline %q", got)
	}
	if got := tp.Series[1].Polyline(); got != "162,240 260,140 358,140 456,140 554,290" {
		t.Errorf("consumed polyline %q", got)
	}
	var labels []string
	for _, tk := range tp.YTicks {
		labels = append(labels, tk.Label)
	}
	if got := strings.Join(labels, " "); got != "0 12.5 25 37.5 50" {
		t.Errorf("y ticks %q", got)
	}
	// Lag: committed and processing lag, both in process; axis to 100.
	if lag := charts[1]; len(lag.Series) != 2 || lag.Series[0].Points[1] != (xy{260, 40}) {
		t.Errorf("lag series %+v", lag.Series)
	}
	// Early latency: ten dots, by window and user; the hostile user sorts
	// first, with 10 ms, at the top, received at 3.01 s.
	early := charts[2].Series[0]
	if !early.Dots || len(early.Points) != 10 || early.Points[0] != (xy{359, 40}) {
		t.Errorf("early dots %+v", early)
	}
	// Final latency in seconds: nine dots; the last, 0.9 s received at
	// 3.7 s, at x = 64 + 3.7/5 * 490 and 90% up an axis to 1 s.
	final := charts[3].Series[0]
	if len(final.Points) != 9 || final.Points[8] != (xy{426.6, 65}) {
		t.Errorf("final dots %+v", final.Points)
	}
}

func TestNiceCeil(t *testing.T) {
	tests := []struct{ in, want float64 }{
		{0, 1}, {-3, 1}, {0.7, 1}, {1, 1}, {1.2, 2}, {2.1, 2.5}, {3, 5}, {50, 50}, {51, 100}, {9999, 10000}, {12000, 20000},
	}
	for _, tt := range tests {
		if got := niceCeil(tt.in); got != tt.want {
			t.Errorf("niceCeil(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestJSONReportGolden(t *testing.T) {
	rep := Build(knownRun())
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "known.report.golden.json", b.Bytes())
}

func TestSummaryGolden(t *testing.T) {
	rep := Build(knownRun())
	var b bytes.Buffer
	rep.WriteSummary(&b)
	golden(t, "known.summary.golden.txt", b.Bytes())
}

func TestHTMLReportIsSelfContainedAndEscaped(t *testing.T) {
	rep := Build(knownRun())
	var b bytes.Buffer
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if !strings.Contains(page, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;@contoso.com") {
		t.Error("the hostile user name is not shown escaped")
	}
	for _, banned := range []string{"<script", "http:", "https:", "src=", "url(", "@import", "<link"} {
		if strings.Contains(page, banned) {
			t.Errorf("the page holds %q: it must render without scripts or fetching anything", banned)
		}
	}
	if n := strings.Count(page, "<svg"); n != 4 {
		t.Errorf("%d charts, want 4", n)
	}
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/ropcwatch/... -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the output:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
