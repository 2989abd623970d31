package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/detector/ocsftest"
	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/stream/kafkatest"
)

// hostileMaxMessage is the message limit of TestHostileCorpus: small enough
// for its size cases to travel through Kafka too.
const hostileMaxMessage = 200_000

// hostileCorpus returns the lines of testdata/hostile.jsonl, timed in the
// current hour, with the cases too large to keep there, and the outcome
// expected of each line (1-based): `alert:"UPN"`, none, or a reason.
func hostileCorpus(t *testing.T) ([]string, map[int]string) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second).Add(-2 * time.Second)
	ts := now.Format(time.RFC3339)
	raw, err := os.ReadFile("testdata/hostile.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(strings.NewReplacer("%T", ts, "%t", strings.ToLower(ts)).Replace(string(raw)), "\n"), "\n")
	want := map[int]string{}
	exp, err := os.ReadFile("testdata/hostile.expected")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(exp), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		n, outcome, _ := strings.Cut(l, "\t")
		i, err := strconv.Atoi(n)
		if err != nil {
			t.Fatalf("hostile.expected: %q", l)
		}
		want[i] = outcome
	}
	// sized returns a qualifying row for upn of exactly size bytes.
	sized := func(upn string, size int) string {
		head := `{"TimeGenerated":"` + ts + `","AuthenticationProtocol":"ropc","ResultType":"0","UserPrincipalName":"` + upn + `","pad":"`
		return head + strings.Repeat("p", size-len(head)-2) + `"}`
	}
	add := func(line, outcome string) {
		lines = append(lines, line)
		want[len(lines)] = outcome
	}
	add(sized("spaces@x.test", hostileMaxMessage)+strings.Repeat(" ", 100_000), `alert:"spaces@x.test"`)
	add(strings.Repeat(" \t", 50_000)+sized("leading@x.test", hostileMaxMessage), `alert:"leading@x.test"`)
	add(sized("crlf@x.test", hostileMaxMessage)+"\r", `alert:"crlf@x.test"`)
	add(sized("over@x.test", hostileMaxMessage+1), "too-large")
	add(`{"AuthenticationProtocol":"ropc","x":`+strings.Repeat("[", 150_000)+`}`, "too-deep")
	return lines, want
}

// outcomes reads what a detect run made of each line: its dead letter's
// reason, else the alert of the line's user, else none.
func outcomes(t *testing.T, want map[int]string, reasons map[int]string, alerted map[string]bool) map[int]string {
	t.Helper()
	got := map[int]string{}
	for line, w := range want {
		switch upn, ok := alertUser(t, w); {
		case reasons[line] != "":
			got[line] = reasons[line]
		case ok && alerted[upn]:
			got[line] = w
		default:
			got[line] = "none"
		}
	}
	for upn := range alerted {
		found := false
		for _, w := range want {
			if u, ok := alertUser(t, w); ok && u == upn {
				found = true
			}
		}
		if !found {
			t.Errorf("unexpected alert for %q", upn)
		}
	}
	return got
}

func alertUser(t *testing.T, outcome string) (string, bool) {
	quoted, ok := strings.CutPrefix(outcome, "alert:")
	if !ok {
		return "", false
	}
	var upn string
	if err := json.Unmarshal([]byte(quoted), &upn); err != nil {
		t.Fatalf("outcome %q: %v", outcome, err)
	}
	return upn, true
}

// pythonLineBreaks are where Python's str.splitlines splits.
const pythonLineBreaks = "\n\r\v\f\x1c\x1d\x1e\u0085\u2028\u2029"

// checkOneDocumentPerLine splits output as Python's splitlines does and
// wants one JSON document in every line.
func checkOneDocumentPerLine(t *testing.T, what string, out []byte) {
	t.Helper()
	for _, l := range strings.FieldsFunc(string(out), func(r rune) bool { return strings.ContainsRune(pythonLineBreaks, r) }) {
		if !json.Valid([]byte(l)) {
			t.Fatalf("%s: a Unicode line splitter sees a line that is no JSON document: %.200q", what, l)
		}
	}
}

// chunkyReader returns reads of 4093 bytes and then 1, so every line
// boundary, CR and LF falls somewhere inside or at the end of a read.
type chunkyReader struct {
	r io.Reader
	n int
}

func (c *chunkyReader) Read(p []byte) (int, error) {
	c.n++
	size := 4093
	if c.n%2 == 0 {
		size = 1
	}
	return c.r.Read(p[:min(len(p), size)])
}

// TestHostileCorpus runs the hostile corpus through every source: a file,
// stdin read in awkward pieces, gzip and Kafka, and wants each line's
// expected outcome from all four, and every output line one JSON document
// for a Unicode line splitter.
func TestHostileCorpus(t *testing.T) {
	lines, want := hostileCorpus(t)
	corpus := strings.Join(lines, "\n") + "\n"
	dir := t.TempDir()
	plain := filepath.Join(dir, "hostile.jsonl")
	if err := os.WriteFile(plain, []byte(corpus), 0o600); err != nil {
		t.Fatal(err)
	}
	detectArgs := func(input, dead string, format string) []string {
		return []string{"detect", "--input", input, "--dead-letter", dead, "--format", format,
			"--max-message-bytes", strconv.Itoa(hostileMaxMessage)}
	}
	batch := func(t *testing.T, input string, stdin io.Reader, format string) map[int]string {
		dead := filepath.Join(t.TempDir(), "dead.jsonl")
		var out, errb bytes.Buffer
		if code := run(context.Background(), detectArgs(input, dead, format), func(string) string { return "" }, stdin, &out, &errb); code != exitRejected {
			t.Fatalf("exit %d, want %d:\n%s", code, exitRejected, errb.String())
		}
		deadBytes, err := os.ReadFile(dead)
		if err != nil {
			t.Fatal(err)
		}
		checkOneDocumentPerLine(t, "alerts", out.Bytes())
		if format == "ocsf" {
			ocsftest.CheckLines(t, out.Bytes())
		}
		checkOneDocumentPerLine(t, "dead letters", deadBytes)
		reasons := map[int]string{}
		for _, l := range bytes.Split(bytes.TrimSuffix(deadBytes, []byte("\n")), []byte("\n")) {
			var dl struct {
				Reason string `json:"reason"`
				Line   int    `json:"line"`
			}
			if err := json.Unmarshal(l, &dl); err != nil {
				t.Fatal(err)
			}
			reasons[dl.Line] = dl.Reason
		}
		alerted := map[string]bool{}
		for _, l := range bytes.Split(bytes.TrimSuffix(out.Bytes(), []byte("\n")), []byte("\n")) {
			alerted[alertUPN(t, l, format)] = true
		}
		return outcomes(t, want, reasons, alerted)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(corpus))
	zw.Close()
	gzPath := filepath.Join(dir, "hostile.jsonl.gz")
	if err := os.WriteFile(gzPath, gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	sources := []struct {
		name string
		run  func(t *testing.T) map[int]string
	}{
		{"file", func(t *testing.T) map[int]string { return batch(t, plain, strings.NewReader(""), "sentinel") }},
		{"file as OCSF", func(t *testing.T) map[int]string { return batch(t, plain, strings.NewReader(""), "ocsf") }},
		{"stdin in awkward reads", func(t *testing.T) map[int]string {
			return batch(t, "-", &chunkyReader{r: strings.NewReader(corpus)}, "sentinel")
		}},
		{"gzip", func(t *testing.T) map[int]string { return batch(t, gzPath, strings.NewReader(""), "sentinel") }},
		{"kafka", func(t *testing.T) map[int]string { return kafkaOutcomes(t, lines, want) }},
	}
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			got := src.run(t)
			for line := 1; line <= len(lines); line++ {
				if got[line] != want[line] {
					t.Errorf("line %d: %s, want %s", line, got[line], want[line])
				}
			}
		})
	}
}

// alertUPN is the user of one alert line in format.
func alertUPN(t *testing.T, line []byte, format string) string {
	t.Helper()
	var a struct {
		Result   struct{ UserPrincipalName string }
		Unmapped struct {
			Result struct{ UserPrincipalName string }
		} `json:"unmapped"`
	}
	if err := json.Unmarshal(line, &a); err != nil {
		t.Fatalf("alert is not JSON: %v", err)
	}
	if format == "ocsf" {
		return a.Unmapped.Result.UserPrincipalName
	}
	return a.Result.UserPrincipalName
}

// kafkaOutcomes produces each line as one message and runs the service:
// dead letters name their offset (line-1); early alerts name their user.
func kafkaOutcomes(t *testing.T, lines []string, want map[int]string) map[int]string {
	target := kafkatest.Cluster(t)
	signins, alerts, dead, incidents := kafkatest.NewTopic(t, target, 1), kafkatest.NewTopic(t, target, 1), kafkatest.NewTopic(t, target, 1), kafkatest.NewTopic(t, target, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs bytes.Buffer
	done := make(chan int, 1)
	go func() {
		var out bytes.Buffer
		done <- run(ctx, []string{"run", "--brokers", strings.Join(target.Brokers, ","), "--topic", signins,
			"--alerts-topic", alerts, "--dead-letter-topic", dead, "--incidents-topic", incidents, "--group", "hostile-" + signins,
			"--max-message-bytes", strconv.Itoa(hostileMaxMessage), "--metrics-addr", ""},
			func(string) string { return "" }, strings.NewReader(""), &out, &logs)
	}()
	p, err := stream.NewProducer(stream.ProducerConfig{Kafka: target.Config})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, l := range lines {
		if err := p.ProduceSync(ctx, stream.Record{Topic: signins, Partition: 0, Value: []byte(l)}); err != nil {
			t.Fatal(err)
		}
	}
	wantDead, wantAlerts := 0, 0
	for _, w := range want {
		if strings.HasPrefix(w, "alert:") {
			wantAlerts++
		} else if w != "none" {
			wantDead++
		}
	}
	reasons, alerted, snapshots := map[int]string{}, map[string]bool{}, 0
	c, err := stream.NewConsumer(stream.ConsumerConfig{Kafka: target.Config, Topics: []string{alerts, dead, incidents}, Group: "hostile-reader-" + signins}, stream.PartitionHooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	pctx, pcancel := context.WithTimeout(ctx, 60*time.Second)
	defer pcancel()
	for len(reasons) < wantDead || len(alerted) < wantAlerts || snapshots == 0 {
		b, err := c.Poll(pctx)
		if err != nil {
			t.Fatalf("after %d dead letters and %d alerts: %v\n%s", len(reasons), len(alerted), err, logs.String())
		}
		for _, r := range b.Records {
			if r.Topic == incidents {
				snapshots++
				checkOneDocumentPerLine(t, "incident snapshot", r.Value)
				continue
			}
			if r.Topic == alerts {
				alerted[alertUPN(t, r.Value, "sentinel")] = true
				checkOneDocumentPerLine(t, "alert record", r.Value)
				continue
			}
			var reason, offset string
			for _, h := range r.Headers {
				switch h.Key {
				case stream.HeaderDLQReason:
					reason = string(h.Value)
				case stream.HeaderDLQOffset:
					offset = string(h.Value)
				}
			}
			n, _ := strconv.Atoi(offset)
			reasons[n+1] = reason
		}
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("run exited %d:\n%s", code, logs.String())
	}
	checkOneDocumentPerLine(t, "logs", logs.Bytes())
	return outcomes(t, want, reasons, alerted)
}
