package detector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ropcwatch/ropcwatch/detector/synth"
	"github.com/ropcwatch/ropcwatch/stream"
)

// The invariants TestSimulation checks after a run (and, for durability,
// at every commit).

// simAlert is one alert record of the alerts topic.
type simAlert struct {
	AlertId    string
	Revision   int
	Status     string
	IncidentId string
	WindowEnd  time.Time
	Result     synth.TruthRow
	// content is the record minus ProcessedAt, canonical.
	content string
}

func (r *simRun) alerts() ([]simAlert, error) {
	var out []simAlert
	for p := range r.w.partitions(simAlerts) {
		for _, rec := range r.w.log(stream.TopicPartition{Topic: simAlerts, Partition: int32(p)}) {
			if rec.control {
				continue
			}
			var a simAlert
			if err := json.Unmarshal(rec.Value, &a); err != nil {
				return nil, fmt.Errorf("alert at partition %d offset %d: %w", p, rec.Offset, err)
			}
			a.Result.WindowEnd = a.WindowEnd
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(rec.Value, &fields); err != nil {
				return nil, err
			}
			delete(fields, "ProcessedAt")
			if !r.opts.scaled {
				// One engine per instance restores incidents from the
				// incidents topic after a restart, as well as it can: exact
				// incidents are the scaled-out detector's.
				delete(fields, "IncidentId")
			}
			b, _ := json.Marshal(fields) // sorted keys
			a.content = string(b)
			for _, h := range rec.Headers {
				if h.Key != "alert-id" && h.Key != "alert-revision" && (h.Key != "incident-id" || !r.opts.scaled) {
					continue
				}
				a.content += "|" + h.Key + "=" + string(h.Value)
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// check returns every invariant the finished run breaks.
func (r *simRun) check() []string {
	bad := slices.Clone(r.w.violations)
	alerts, err := r.alerts()
	if err != nil {
		return append(bad, err.Error())
	}
	if r.opts.scaled {
		// One engine re-reads its input from the commit after a restart
		// without the watermark it had: a window that had closed and gone
		// may be raised again from its later sign-ins. Exact revisions
		// after restarts are the scaled-out detector's (README, Delivery).
		bad = append(bad, r.checkIdentity(alerts)...)
	}
	refused, dead := r.deadLetters()
	bad = append(bad, r.checkRows(alerts, refused)...)
	bad = append(bad, r.checkDeadLetters(dead)...)
	return bad
}

// checkIdentity: no (AlertId, Revision) with two contents; one IncidentId
// per alert; with exactly once, no (AlertId, Revision) twice.
func (r *simRun) checkIdentity(alerts []simAlert) []string {
	var bad []string
	seen := map[string]string{}
	count := map[string]int{}
	incident := map[string]string{}
	for _, a := range alerts {
		k := a.AlertId + "/" + strconv.Itoa(a.Revision)
		count[k]++
		if prev, ok := seen[k]; ok && prev != a.content {
			bad = append(bad, fmt.Sprintf("alert %s revision %d emitted with two contents:\n  %s\n  %s", a.AlertId, a.Revision, prev, a.content))
		}
		seen[k] = a.content
		if prev, ok := incident[a.AlertId]; ok && prev != a.IncidentId && r.opts.scaled {
			bad = append(bad, fmt.Sprintf("alert %s carries incident %s and %s", a.AlertId, prev, a.IncidentId))
		}
		incident[a.AlertId] = a.IncidentId
	}
	if r.opts.exactlyOnce {
		for _, k := range slices.Sorted(maps.Keys(count)) {
			if count[k] > 1 {
				bad = append(bad, fmt.Sprintf("exactly once: alert revision %s read %d times", k, count[k]))
			}
		}
	}
	return firstOf(bad, 5)
}

// simRecordKey names one record of one input message.
type simRecordKey struct {
	partition int32
	offset    int64
	index     int
}

// deadLetters reads the dead-letter topic: the records a shard refused
// (for want of memory, or too late for their window), by input position,
// and the input messages dead-lettered.
func (r *simRun) deadLetters() (refused map[simRecordKey]bool, dead map[simRecordKey]string) {
	refused, dead = map[simRecordKey]bool{}, map[simRecordKey]string{}
	for _, rec := range r.w.log(stream.TopicPartition{Topic: simDead}) {
		if rec.control {
			continue
		}
		h := map[string]string{}
		for _, x := range rec.Headers {
			h[x.Key] = string(x.Value)
		}
		part, _ := strconv.Atoi(h[stream.HeaderDLQPartition])
		off, _ := strconv.ParseInt(h[stream.HeaderDLQOffset], 10, 64)
		reason := h[stream.HeaderDLQReason]
		if reason == ReasonStateFull || reason == ReasonTooLate {
			// A shard's dead letter holds the routed sign-in: it names the
			// record it refused.
			if routed, err := decodeRouted(rec.Value); err == nil {
				refused[simRecordKey{routed.Partition, routed.Offset, routed.Index}] = true
				continue
			}
		}
		if h[stream.HeaderDLQTopic] == simInput {
			dead[simRecordKey{int32(part), off, 0}] = reason
		}
	}
	return refused, dead
}

// checkRows: the latest revision of every alert is the batch detector's row
// over the same input (less what was refused for lack of state), and,
// when nothing was late or refused, every final revision is too and
// nothing was amended.
func (r *simRun) checkRows(alerts []simAlert, refused map[simRecordKey]bool) []string {
	want, err := r.truth(refused)
	if err != nil {
		return []string{"batch truth: " + err.Error()}
	}
	latest := map[string]simAlert{}
	var finals []synth.TruthRow
	amended := 0
	for _, a := range alerts {
		if cur, ok := latest[a.AlertId]; !ok || a.Revision > cur.Revision {
			latest[a.AlertId] = a
		}
		switch a.Status {
		case string(StatusFinal):
			finals = append(finals, a.Result)
		case string(StatusAmended):
			amended++
		}
	}
	var got []synth.TruthRow
	for _, id := range slices.Sorted(maps.Keys(latest)) {
		got = append(got, latest[id].Result)
	}
	var bad []string
	if d := synth.Compare(want, got); !d.Empty() && !r.refusedExplain(d, refused) {
		var b strings.Builder
		d.WriteReport(&b, 5)
		bad = append(bad, "latest revisions differ from the batch detector's rows:\n"+b.String())
	}
	// One engine that restarted may raise a window that had closed and
	// gone again from its sign-ins after the commit (README, Delivery):
	// its finals are exact only without restarts.
	if r.opts.input.late == 0 && len(refused) == 0 && (r.opts.scaled || !r.restarted()) {
		if amended > 0 {
			bad = append(bad, fmt.Sprintf("%d amended revisions, though no record was late", amended))
		}
		if d := synth.Compare(want, dedupeRows(finals)); !d.Empty() {
			var b strings.Builder
			d.WriteReport(&b, 5)
			bad = append(bad, "final revisions differ from the batch detector's rows, though no record was late:\n"+b.String())
		}
	}
	return bad
}

// refusedExplain reports whether every difference d shows is a window
// that lost a sign-in for want of memory and counted it when it was routed
// again (its router restarted): such a row lies between the truth without
// the refused sign-ins and the truth with them. Its dead letter stays.
func (r *simRun) refusedExplain(d synth.Diff, refused map[simRecordKey]bool) bool {
	if len(refused) == 0 || len(d.Missing) > 0 {
		return false
	}
	all, err := r.truth(nil)
	if err != nil {
		return false
	}
	full := map[string]synth.TruthRow{}
	for _, row := range all {
		full[row.WindowEnd.String()+"\x00"+row.UserPrincipalName] = row
	}
	within := func(got synth.TruthRow, lower int) bool {
		f, ok := full[got.WindowEnd.String()+"\x00"+got.UserPrincipalName]
		return ok && got.Count >= lower && got.Count <= f.Count && subset(got.IPs, f.IPs) && subset(got.Countries, f.Countries) && subset(got.Apps, f.Apps)
	}
	for _, row := range d.Extra {
		if !within(row, 1) {
			return false
		}
	}
	for _, w := range d.Wrong {
		if !within(w[1], w[0].Count) {
			return false
		}
	}
	return true
}

func subset(a, b []string) bool {
	for _, v := range a {
		if !slices.Contains(b, v) {
			return false
		}
	}
	return true
}

// truth runs the batch detector over the input produced, without future
// records and the records refused for lack of state.
func (r *simRun) truth(refused map[simRecordKey]bool) ([]synth.TruthRow, error) {
	var lines bytes.Buffer
	for _, m := range r.input[:r.fed] {
		if m.marker || m.future {
			continue
		}
		if len(m.records) == 0 {
			lines.Write(m.value)
			lines.WriteByte('\n')
			continue
		}
		var keep []string
		nth := 0 // of the qualifying records
		for i, rec := range m.records {
			if m.qualifies[i] {
				nth++
				if refused[simRecordKey{m.partition, m.offset, nth - 1}] {
					continue
				}
			}
			keep = append(keep, rec)
		}
		if len(keep) > 0 {
			lines.WriteString(simValue(keep, m.envelope || len(keep) < len(m.records)))
			lines.WriteByte('\n')
		}
	}
	live := simLive(r.opts, nil)
	var out bytes.Buffer
	if _, err := RunBatch(context.Background(), BatchConfig{Rule: live.Rule, Now: func() time.Time { return simStart }}, &lines, &out, nil); err != nil {
		return nil, err
	}
	return rowsOfAlerts(out.Bytes())
}

// rowsOfAlerts reads the Result rows of alert lines.
func rowsOfAlerts(b []byte) ([]synth.TruthRow, error) {
	var rows []synth.TruthRow
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var a simAlert
		if err := dec.Decode(&a); err == io.EOF {
			return rows, nil
		} else if err != nil {
			return nil, err
		}
		a.Result.WindowEnd = a.WindowEnd
		rows = append(rows, a.Result)
	}
}

// checkDeadLetters: every rejected input message and every future-dated
// one is dead-lettered.
func (r *simRun) checkDeadLetters(dead map[simRecordKey]string) []string {
	var bad []string
	for _, m := range r.input[:r.fed] {
		k := simRecordKey{m.partition, m.offset, 0}
		switch {
		case m.rejected && dead[k] == "":
			bad = append(bad, fmt.Sprintf("rejected input at partition %d offset %d has no dead letter", m.partition, m.offset))
		case m.future && dead[k] != ReasonFutureTime:
			bad = append(bad, fmt.Sprintf("future-dated input at partition %d offset %d: dead letter %q, want %s", m.partition, m.offset, dead[k], ReasonFutureTime))
		}
	}
	return firstOf(bad, 5)
}

func firstOf(list []string, n int) []string {
	if len(list) > n {
		return append(list[:n:n], fmt.Sprintf("... and %d more", len(list)-n))
	}
	return list
}

// restarted reports whether a process of the run was started again.
func (r *simRun) restarted() bool {
	seen := map[string]bool{}
	for _, n := range r.nodes {
		if seen[n.name] {
			return true
		}
		seen[n.name] = true
	}
	return false
}
