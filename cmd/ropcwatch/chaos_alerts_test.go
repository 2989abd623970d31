package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"golang.org/x/sync/errgroup"

	"github.com/ropcwatch/ropcwatch/detector/synth"
)

// alertRecord is one record of an alerts topic as a downstream consumer
// reads it, with the fields the comparison needs decoded.
type alertRecord struct {
	Partition int32
	Offset    int64
	Key       []byte
	Headers   []protocol.Header
	Value     []byte

	AlertID  string
	Revision int
	Status   string
	Result   string // the Result object, raw JSON
}

// readAlerts reads every committed record of an alerts topic with
// segmentio/kafka-go, our independent downstream client, partitions in
// parallel, and returns them by partition and offset.
func readAlerts(t *testing.T, b chaosBroker, topic string, partitions int32) []alertRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	tr := &kafkago.Transport{}
	defer tr.CloseIdleConnections()
	addr := kafkago.TCP(b.target.Brokers...)
	var mu sync.Mutex
	var out []alertRecord
	g, ctx := errgroup.WithContext(ctx)
	for p := range partitions {
		g.Go(func() error {
			return readCommitted(ctx, tr, addr, topic, p, func(r alertRecord) error {
				var a struct {
					AlertId  string
					Revision int
					Status   string
					Result   json.RawMessage
				}
				if err := json.Unmarshal(r.Value, &a); err != nil {
					return fmt.Errorf("alert at partition %d offset %d: %w", r.Partition, r.Offset, err)
				}
				r.AlertID, r.Revision, r.Status, r.Result = a.AlertId, a.Revision, a.Status, string(a.Result)
				mu.Lock()
				out = append(out, r)
				mu.Unlock()
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("read %s with kafka-go: %v", topic, err)
	}
	slices.SortFunc(out, func(a, b alertRecord) int {
		return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})
	return out
}

// revisionKey names one alert revision.
type revisionKey struct {
	AlertID  string
	Revision int
}

// resultKey is what two runs must agree on (SPEC section 4): the final and
// amended rows of each alert. Their revision numbers, and the early and
// update revisions before them, may differ with how partitions
// interleaved.
type resultKey struct {
	AlertID, Status, Result string
}

// settled reports whether a revision is one two runs must agree on.
func (r alertRecord) settled() bool { return r.Status == "final" || r.Status == "amended" }

// alertComparison compares a disturbed run's alerts with a reference run's.
type alertComparison struct {
	Reference, Run int // records read
	Distinct       int // distinct (AlertId, Revision) of the run
	// Missing and Extra are the final and amended rows of the reference
	// that the run lacks, and the other way round.
	Missing, Extra []resultKey
	// Duplicates counts the run's records beyond the first of each
	// (AlertId, Revision); DuplicatesDiffering counts the revisions whose
	// records differ in more than ProcessedAt (key, headers or value).
	Duplicates, DuplicatesDiffering int
	DifferingExample                [2]string
	ReferenceDuplicates             int
}

func compareAlerts(ref, run []alertRecord) alertComparison {
	c := alertComparison{Reference: len(ref), Run: len(run)}
	want := map[resultKey]bool{}
	refRevisions := map[revisionKey]bool{}
	for _, r := range ref {
		k := revisionKey{r.AlertID, r.Revision}
		if refRevisions[k] {
			c.ReferenceDuplicates++
		}
		refRevisions[k] = true
		if r.settled() {
			want[resultKey{r.AlertID, r.Status, r.Result}] = true
		}
	}
	got := map[resultKey]bool{}
	first := map[revisionKey][]byte{}
	differing := map[revisionKey]bool{}
	for _, r := range run {
		k := revisionKey{r.AlertID, r.Revision}
		if r.settled() {
			got[resultKey{r.AlertID, r.Status, r.Result}] = true
		}
		content := deterministicContent(r)
		prev, seen := first[k]
		switch {
		case !seen:
			first[k] = content
		case !bytes.Equal(prev, content):
			c.Duplicates++
			if !differing[k] {
				differing[k] = true
				c.DuplicatesDiffering++
				if c.DifferingExample[0] == "" {
					c.DifferingExample = [2]string{string(prev), string(content)}
				}
			}
		default:
			c.Duplicates++
		}
	}
	c.Distinct = len(first)
	for k := range want {
		if !got[k] {
			c.Missing = append(c.Missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			c.Extra = append(c.Extra, k)
		}
	}
	byKey := func(a, b resultKey) int {
		return cmp.Or(cmp.Compare(a.AlertID, b.AlertID), cmp.Compare(a.Status, b.Status), cmp.Compare(a.Result, b.Result))
	}
	slices.SortFunc(c.Missing, byKey)
	slices.SortFunc(c.Extra, byKey)
	return c
}

// deterministicContent is everything of an alert record that a replay must
// re-create byte for byte: key, headers and value without ProcessedAt.
func deterministicContent(r alertRecord) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "key=%q", r.Key)
	for _, h := range r.Headers {
		fmt.Fprintf(&b, " %s=%q", h.Key, h.Value)
	}
	b.WriteString(" value=")
	b.Write(withoutProcessedAt(r.Value))
	return b.Bytes()
}

// withoutProcessedAt removes the top-level "ProcessedAt" string member from a
// compact JSON object, as written, leaving every other byte in place. The
// JSON encoder escapes quotes inside strings, so the member's opening bytes
// cannot occur inside another value.
func withoutProcessedAt(v []byte) []byte {
	const member = `"ProcessedAt":"`
	i := bytes.Index(v, []byte(member))
	if i < 0 {
		return v
	}
	j := bytes.IndexByte(v[i+len(member):], '"')
	if j < 0 {
		return v
	}
	end := i + len(member) + j + 1
	switch {
	case i > 0 && v[i-1] == ',':
		i--
	case end < len(v) && v[end] == ',':
		end++
	}
	return append(append([]byte(nil), v[:i]...), v[end:]...)
}

// truthDiff compares the latest revision of each alert with the rows the
// generator says the rule must find.
func truthDiff(t *testing.T, truth *synth.Truth, recs []alertRecord) synth.Diff {
	t.Helper()
	var lines bytes.Buffer
	for _, r := range recs {
		lines.Write(r.Value)
		lines.WriteByte('\n')
	}
	rows, err := alertRows(&lines)
	if err != nil {
		t.Fatal(err)
	}
	return synth.Compare(truth.Rows, rows)
}

// logComparison logs up to limit examples of each kind of difference.
func logComparison(t *testing.T, name string, c alertComparison, limit int) {
	t.Helper()
	t.Logf("%s: reference %d records, run %d records, %d distinct revisions; missing %d, extra %d; duplicates %d, differing beyond ProcessedAt %d; reference duplicates %d",
		name, c.Reference, c.Run, c.Distinct, len(c.Missing), len(c.Extra), c.Duplicates, c.DuplicatesDiffering, c.ReferenceDuplicates)
	for _, k := range c.Missing[:min(limit, len(c.Missing))] {
		t.Logf("  missing %s %s: %s", k.AlertID, k.Status, k.Result)
	}
	for _, k := range c.Extra[:min(limit, len(c.Extra))] {
		t.Logf("  extra   %s %s: %s", k.AlertID, k.Status, k.Result)
	}
	if c.DifferingExample[0] != "" {
		t.Logf("  a duplicate that differs beyond ProcessedAt:\n    first %s\n    later %s", c.DifferingExample[0], c.DifferingExample[1])
	}
}

// logTruth logs a truth comparison with a few examples.
func logTruth(t *testing.T, name string, d synth.Diff) {
	t.Helper()
	var b bytes.Buffer
	d.WriteReport(&b, 3)
	t.Logf("%s against the generator's truth: %s", name, bytes.TrimSpace(b.Bytes()))
}

func TestWithoutProcessedAt(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"a member in the middle", `{"AlertId":"a","ProcessedAt":"2026-11-27T07:00:00.1234567Z","Revision":1}`, `{"AlertId":"a","Revision":1}`},
		{"the first member", `{"ProcessedAt":"x","Revision":1}`, `{"Revision":1}`},
		{"the only member", `{"ProcessedAt":"x"}`, `{}`},
		{"no such member", `{"AlertId":"a"}`, `{"AlertId":"a"}`},
		{"a value that only mentions it", `{"Description":"\"ProcessedAt\":\"x","Revision":1}`, `{"Description":"\"ProcessedAt\":\"x","Revision":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(withoutProcessedAt([]byte(tt.in))); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// The chaos judge: runs agree on final and amended rows, whatever their
// early and update revisions or revision numbers; a revision read twice
// with another content is a duplicate that differs.
func TestCompareAlerts(t *testing.T) {
	rec := func(id string, rev int, status, result string) alertRecord {
		return alertRecord{AlertID: id, Revision: rev, Status: status, Result: result,
			Value: fmt.Appendf(nil, `{"AlertId":%q,"Revision":%d,"Status":%q,"Result":%s}`, id, rev, status, result)}
	}
	ref := []alertRecord{rec("a", 1, "early", `{"Count":1}`), rec("a", 2, "final", `{"Count":2}`)}
	tests := []struct {
		name                        string
		run                         []alertRecord
		missing, extra, dup, differ int
	}{
		{"another interleaving", []alertRecord{rec("a", 1, "early", `{"Count":2}`), rec("a", 2, "update", `{"Count":2}`), rec("a", 3, "final", `{"Count":2}`)}, 0, 0, 0, 0},
		{"a wrong final", []alertRecord{rec("a", 1, "early", `{"Count":1}`), rec("a", 2, "final", `{"Count":1}`)}, 1, 1, 0, 0},
		{"no final", []alertRecord{rec("a", 1, "early", `{"Count":1}`)}, 1, 0, 0, 0},
		{"a duplicate", append(slices.Clone(ref), ref[1]), 0, 0, 1, 0},
		{"a duplicate that differs", append(slices.Clone(ref), rec("a", 2, "final", `{"Count":3}`)), 0, 1, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := compareAlerts(ref, tt.run)
			if len(c.Missing) != tt.missing || len(c.Extra) != tt.extra || c.Duplicates != tt.dup || c.DuplicatesDiffering != tt.differ {
				t.Fatalf("missing %v extra %v duplicates %d differing %d; want %d %d %d %d", c.Missing, c.Extra, c.Duplicates, c.DuplicatesDiffering, tt.missing, tt.extra, tt.dup, tt.differ)
			}
		})
	}
}
