package detector

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/detector/synth"
	"github.com/ropcwatch/ropcwatch/stream"
)

// scaledConfig is the config of one scaled-out instance of group.
func (st serviceTopics) scaledConfig(live LiveConfig, instance string, exactlyOnce bool) ServiceConfig {
	cfg := st.config(live)
	repartition, state := ScaleTopics(st.group)
	cfg.Scale = &ScaleConfig{RepartitionTopic: repartition, StateTopic: state, CreateTopics: true, MarkerInterval: 20 * time.Millisecond}
	cfg.Consumer.InstanceID = instance
	cfg.ExactlyOnce = exactlyOnce
	cfg.TransactionalID = st.group + "-" + instance
	if os.Getenv("ROPCWATCH_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("instance", instance)
	}
	return cfg
}

// spread produces lines over the partitions of the sign-in topic in small
// chunks, as an unkeyed producer does, so each user's sign-ins land on
// several partitions; then one far later record per partition.
func spread(t *testing.T, st serviceTopics, partitions int32, lines []string) {
	t.Helper()
	const chunk = 40
	for i := 0; i < len(lines); i += chunk {
		produce(t, st, int32(i/chunk)%partitions, lines[i:min(i+chunk, len(lines))]...)
	}
	for p := range partitions {
		produce(t, st, p, noiseAt(time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC)))
	}
}

// revisionSet maps "AlertId/Revision" to its Status and Result, and counts
// the records read per key.
func revisionSet(t *testing.T, recs []stream.Record) (set map[string]string, seen map[string]int) {
	t.Helper()
	set, seen = map[string]string{}, map[string]int{}
	for _, r := range recs {
		var a struct {
			AlertId  string
			Revision int
			Status   string
			Result   json.RawMessage
		}
		if err := json.Unmarshal(r.Value, &a); err != nil {
			t.Fatal(err)
		}
		k := fmt.Sprintf("%s/%d", a.AlertId, a.Revision)
		set[k] = a.Status + " " + string(a.Result)
		seen[k]++
	}
	return set, seen
}

// settledRows maps each alert's AlertId to the Results of its final and
// amended revisions, in revision order.
func settledRows(t *testing.T, recs []stream.Record) map[string]string {
	t.Helper()
	type rev struct {
		n      int
		result string
	}
	byAlert := map[string][]rev{}
	set, _ := revisionSet(t, recs)
	for k, v := range set {
		id, n, _ := strings.Cut(k, "/")
		status, result, _ := strings.Cut(v, " ")
		if status != string(StatusFinal) && status != string(StatusAmended) {
			continue
		}
		r, _ := strconv.Atoi(n)
		byAlert[id] = append(byAlert[id], rev{r, status + " " + result})
	}
	out := map[string]string{}
	for id, revs := range byAlert {
		slices.SortFunc(revs, func(a, b rev) int { return a.n - b.n })
		for _, r := range revs {
			out[id] += r.result + "\n"
		}
	}
	return out
}

func finalsDone(t *testing.T, rows int) func([]stream.Record) bool {
	return func(recs []stream.Record) bool {
		ids := map[string]bool{}
		for _, a := range alertsOf(t, recs) {
			if a.Status == "final" {
				ids[a.AlertId] = true
			}
		}
		return len(ids) >= rows
	}
}

// TestScaledInstancesMatchOneInstance runs three scaled-out instances and,
// on another group, one, over the same unkeyed six-partition stream: the
// alert revisions are the same set, and the finals are the batch truth.
func TestScaledInstancesMatchOneInstance(t *testing.T) {
	for _, eos := range []bool{false, true} {
		t.Run(fmt.Sprintf("exactly-once=%v", eos), func(t *testing.T) {
			const partitions = 6
			st := newServiceTopics(t, partitions)
			lines, truth := generated(t, synth.Config{Records: 8000, Seed: 21, ROPCRate: 0.02})
			spread(t, st, partitions, lines)
			live := LiveConfig{Lateness: time.Minute, IdleTimeout: 2 * time.Second}

			one := st
			one.alerts, one.group = st.alerts+"-one", st.group+"-one"
			if err := stream.EnsureTopics(context.Background(), st.target.Config, map[string]int32{one.alerts: 1}); err != nil {
				t.Fatal(err)
			}
			start(t, one.scaledConfig(live, "a", eos))
			for _, id := range []string{"a", "b", "c"} {
				start(t, st.scaledConfig(live, id, eos))
			}
			ref := newReader(t, one, one.alerts)
			ref.until(90*time.Second, "every final alert of one instance", finalsDone(t, len(truth.Rows)))
			got := newReader(t, st, st.alerts)
			got.until(90*time.Second, "every final alert of three instances", finalsDone(t, len(truth.Rows)))
			time.Sleep(time.Second) // anything extra would arrive now
			got.until(time.Second, "late extras", func([]stream.Record) bool { return true })

			// SPEC section 4: final and amended rows are the same; early and
			// update revisions may differ in how the partitions interleaved.
			want := settledRows(t, ref.records)
			have := settledRows(t, got.records)
			for _, k := range slices.Sorted(maps.Keys(want)) {
				if have[k] != want[k] {
					t.Errorf("alert %s: three instances %q, one instance %q", k, have[k], want[k])
				}
			}
			for k := range have {
				if _, ok := want[k]; !ok {
					t.Errorf("alert %s only with three instances: %s", k, have[k])
				}
			}
			_, seen := revisionSet(t, got.records)
			dups := 0
			for _, n := range seen {
				dups += n - 1
			}
			if eos && dups > 0 {
				t.Errorf("%d duplicate revisions with exactly once", dups)
			}
			var finals []synth.TruthRow
			for _, a := range alertsOf(t, got.records) {
				if a.Status == "final" {
					finals = append(finals, a.Result)
				}
			}
			if d := synth.Compare(truth.Rows, dedupeRows(finals)); !d.Empty() {
				var rep strings.Builder
				d.WriteReport(&rep, 5)
				t.Fatalf("final alerts differ from the batch truth:\n%s", rep.String())
			}
			t.Logf("%d windows, %d revisions, %d duplicates", len(truth.Rows), len(seen), dups)
		})
	}
}

func dedupeRows(rows []synth.TruthRow) []synth.TruthRow {
	seen := map[string]bool{}
	var out []synth.TruthRow
	for _, r := range rows {
		k := r.WindowEnd.String() + r.UserPrincipalName
		if !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}
