package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/cmd/ropcwatch/internal/loadreport"
	"github.com/ropcwatch/ropcwatch/stream/kafkatest"
)

// TestLoadtestInProcess runs a small load test end to end on the test
// cluster (kfake, or the real broker in CI): the detector in process, 6,000
// generated sign-ins replayed as fast as possible. Every expected row must
// come out exactly, each window with an early and a final alert in a
// plausible time. The seed rule runs with 10-minute windows over 20
// minutes of event time, so that the last window closes within seconds of
// the stream's end rather than an hour's worth of redelivered records
// later.
func TestLoadtestInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for seconds")
	}
	dir := t.TempDir()
	rule := shortWindowRule(t, dir)
	target := kafkatest.Cluster(t)
	signins, alerts := kafkatest.NewTopic(t, target, 3), kafkatest.NewTopic(t, target, 1)
	jsonPath, htmlPath := filepath.Join(dir, "report.json"), filepath.Join(dir, "report.html")
	// Lateness covers the generator's disorder (up to 3.2 s of event time
	// at this rate); the last window then closes about idle timeout +
	// lateness after the stream stops.
	r := runCmd(t, "", "loadtest", "--in-process", "--brokers", strings.Join(target.Brokers, ","), "--rule", rule,
		"--topic", signins, "--alerts-topic", alerts, "--group", signins, "--generate", "6000", "--seed", "5", "--span", "20m",
		"--lateness", "4s", "--idle-timeout", "1s", "--wait", "90s", "--progress", "0", "--log-format", "text",
		"--report-json", jsonPath, "--report-html", htmlPath)
	if r.code != exitOK {
		t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep loadreport.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("JSON report: %v", err)
	}
	c := rep.Correctness
	if c.Expected == 0 || c.Matched != c.Expected || !c.Clean() {
		t.Errorf("correctness %+v, want every expected row matched", c)
	}
	// Plausible: every window timed; an early alert within 10 s of its
	// first sign-in even on a loaded 2-core machine; a final within the
	// idle timeout and lateness plus 20 s.
	early, final := rep.Latency.Early, rep.Latency.Final
	if early.Count != c.Expected || early.Missing != 0 || early.P50 <= 0 || early.Max > 10000 {
		t.Errorf("early latency %+v over %d windows", early, c.Expected)
	}
	if final.Count != c.Expected || final.Missing != 0 || final.P50 <= 0 || final.Max > 26000 || final.P50 > final.Max {
		t.Errorf("final latency %+v over %d windows", final, c.Expected)
	}
	if rep.Produced.Messages == 0 || rep.Consumed.Messages != rep.Produced.Messages || rep.Produced.Bytes != rep.Consumed.Bytes {
		t.Errorf("produced %+v, consumed %+v: the detector must process every message", rep.Produced, rep.Consumed)
	}
	if rep.Settings.SignIns != 6000 || rep.Settings.Partitions != 3 || !rep.Settings.InProcess {
		t.Errorf("settings %+v", rep.Settings)
	}
	if len(rep.Series) < 2 || len(rep.Windows) != c.Expected {
		t.Errorf("%d points, %d windows", len(rep.Series), len(rep.Windows))
	}
	page, err := os.ReadFile(htmlPath)
	if err != nil || strings.Count(string(page), "<svg") != 4 {
		t.Errorf("HTML report: %v, %d charts", err, strings.Count(string(page), "<svg"))
	}
	for _, want := range []string{"produced ", "consumed ", "early ", "final ", "0 missing, 0 extra, 0 wrong"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
}

// shortWindowRule writes the seed rule with 10-minute windows to dir.
func shortWindowRule(t *testing.T, dir string) string {
	t.Helper()
	seed, err := os.ReadFile(filepath.Join("..", "..", "detector", "rules", "ropc-authentication-detected.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	short := strings.NewReplacer("queryFrequency: 1h\n", "queryFrequency: 10m\n", "queryPeriod: 1h\n", "queryPeriod: 10m\n", "ago(1h)", "ago(10m)").Replace(string(seed))
	if strings.Count(short, "10m") != 3 {
		t.Fatal("the seed rule no longer says queryFrequency: 1h, queryPeriod: 1h and ago(1h)")
	}
	rule := filepath.Join(dir, "rule.yaml")
	if err := os.WriteFile(rule, []byte(short), 0o600); err != nil {
		t.Fatal(err)
	}
	return rule
}

// TestLoadtestAgainstARunningDetector measures a detector that `ropcwatch
// run` runs: the load test finds it by its group, and its consumption
// through the group's committed offsets.
func TestLoadtestAgainstARunningDetector(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for seconds")
	}
	rule := shortWindowRule(t, t.TempDir())
	target := kafkatest.Cluster(t)
	brokers := strings.Join(target.Brokers, ",")
	signins, alerts := kafkatest.NewTopic(t, target, 2), kafkatest.NewTopic(t, target, 1)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() {
		done <- runCmdContext(ctx, t, "", "run", "--brokers", brokers, "--rule", rule, "--topic", signins, "--alerts-topic", alerts,
			"--group", signins, "--lateness", "4s", "--idle-timeout", "1s", "--metrics-addr", "", "--log-format", "text")
	}()
	r := runCmd(t, "", "loadtest", "--brokers", brokers, "--rule", rule, "--topic", signins, "--alerts-topic", alerts, "--group", signins,
		"--generate", "3000", "--seed", "9", "--span", "20m", "--wait", "90s", "--progress", "0")
	stop()
	if d := <-done; d.code != exitOK {
		t.Errorf("run exited %d:\n%s", d.code, d.stderr)
	}
	if r.code != exitOK {
		t.Fatalf("loadtest exited %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"in another process", "committed ", "(committed offsets)", " 0 missing, 0 extra, 0 wrong"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestLoadtestUsage(t *testing.T) {
	base := []string{"loadtest", "--brokers", "127.0.0.1:1", "--topic", "s", "--alerts-topic", "a"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"nothing to generate", base, "--generate N is required"},
		{"no alerts topic", []string{"loadtest", "--brokers", "127.0.0.1:1", "--topic", "s", "--generate", "5"}, "--alerts-topic is required"},
		{"two topics", append(base[:4:4], "s,t", "--alerts-topic", "a", "--generate", "5"), "the one topic"},
		{"ocsf alerts", append(base, "--generate", "5", "--format", "ocsf"), "--format"},
		{"shifted windows", append(base, "--generate", "5", "--window-offset", "15m"), "--window-offset"},
		{"a negative rate", append(base, "--generate", "5", "--rate", "-1"), "must not be negative"},
		{"no span", append(base, "--generate", "5", "--span", "0s"), "--span"},
		{"a stray argument", append(base, "--generate", "5", "file.jsonl"), "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, "", tt.args...)
			if r.code != exitFailure || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit 1 naming %q", r.code, r.stderr, tt.want)
			}
		})
	}
}

// TestFinalIsTheFirstCloseAfterTheLastSignIn pins the definition of the
// final latency's end: the first final or amended revision received at or
// after the window's last qualifying sign-in was acknowledged.
func TestFinalIsTheFirstCloseAfterTheLastSignIn(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(1000+int64(s), 0) }
	tests := []struct {
		name   string
		last   time.Time
		closes []time.Time
		want   time.Time
		ok     bool
	}{
		{"no close yet", at(5), nil, time.Time{}, false},
		{"the final after the last sign-in", at(5), []time.Time{at(9)}, at(9), true},
		{"a final before a late sign-in waits for the amendment", at(5), []time.Time{at(3), at(8)}, at(8), true},
		{"a final before a late sign-in and nothing since", at(5), []time.Time{at(3)}, time.Time{}, false},
		{"a close at the same instant counts", at(5), []time.Time{at(5)}, at(5), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := windowTimes{last: tt.last, closes: tt.closes}
			got, ok := w.closedAfterLast()
			if ok != tt.ok || !got.Equal(tt.want) {
				t.Errorf("closedAfterLast() = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCommandLineQuotesWhatAShellWouldSplit(t *testing.T) {
	got := commandLine([]string{"--topic", "sign ins", "--rule", "", "--group", "g$1"})
	want := `ropcwatch loadtest --topic "sign ins" --rule "" --group "g$1"`
	if got != want {
		t.Errorf("commandLine = %s, want %s", got, want)
	}
}
