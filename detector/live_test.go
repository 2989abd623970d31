package detector

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/detector/synth"
	"github.com/ropcwatch/ropcwatch/stream"
)

// clock is a wall clock that tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func liveRecord(min, sec int, upn, id, ip string) string {
	return fmt.Sprintf(`{"time":"2026-05-01T09:%02d:%02dZ","category":"NonInteractiveUserSignInLogs","resultType":"0","properties":{"id":%q,"authenticationProtocol":"ropc","userPrincipalName":%q,"appDisplayName":"curl","ipAddress":%q}}`, min, sec, id, upn, ip)
}

func noise(min int) string {
	return fmt.Sprintf(`{"time":"2026-05-01T%s","category":"NonInteractiveUserSignInLogs","resultType":"0","properties":{"authenticationProtocol":"none"}}`, clockAt(min))
}

// clockAt renders minutes after 09:00 as a time of day.
func clockAt(min int) string {
	return time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(min) * time.Minute).Format("15:04:05Z")
}

type feeder struct {
	t      *testing.T
	e      *Engine
	clock  *clock
	offset map[int32]int64
	out    Output
}

func newFeeder(t *testing.T, cfg LiveConfig) *feeder {
	t.Helper()
	// A day after the records: a replay, where no event time is in the future.
	c := &clock{t: time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC)}
	if cfg.Rule == nil {
		cfg.Rule = SeedRule()
	}
	cfg.Now = c.now
	e, err := NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &feeder{t: t, e: e, clock: c, offset: map[int32]int64{}}
}

// feed ingests msg as the next record of partition, then tells the engine
// where every partition ends, as a fetch and the service's listing do: the
// partitions fed are caught up.
func (f *feeder) feed(partition int32, msg string) {
	f.listEnds()
	rec := stream.Record{Topic: "signins", Partition: partition, Offset: f.offset[partition], Value: []byte(msg)}
	f.offset[partition]++
	f.e.Ingest(rec, &f.out)
	f.listEnds()
}

func (f *feeder) listEnds() {
	ends := map[stream.TopicPartition]int64{}
	for p, off := range f.offset {
		ends[stream.TopicPartition{Topic: "signins", Partition: p}] = off
	}
	f.e.Ends(ends, f.clock.now())
}

// tick is the service's tick after a listing of the ends.
func (f *feeder) tick() {
	f.listEnds()
	f.e.Tick(&f.out)
}

// statuses lists the emitted revisions as "user:status:revision".
func (f *feeder) statuses() []string {
	var s []string
	for _, a := range f.out.Alerts {
		s = append(s, fmt.Sprintf("%s:%s:%d", a.Result.UserPrincipalName, a.Status, a.Revision))
	}
	return s
}

func TestEngineLifecycle(t *testing.T) {
	f := newFeeder(t, LiveConfig{Lateness: time.Minute, UpdateInterval: 10 * time.Minute, Retention: 30 * time.Minute})
	f.feed(0, liveRecord(5, 0, "alice", "a1", "1.1.1.1"))   // early
	f.feed(0, liveRecord(6, 0, "alice", "a1", "1.1.1.1"))   // redelivered: nothing
	f.feed(0, liveRecord(7, 0, "alice", "a2", "2.2.2.2"))   // grew, within the interval: pending
	f.feed(0, liveRecord(16, 0, "alice", "a3", "2.2.2.2"))  // interval passed with a pending change: update
	f.feed(0, noise(60))                                    // 10:00: watermark 09:59, nothing closes
	f.feed(0, noise(61))                                    // 10:01: watermark 10:00, the window closes
	f.feed(0, liveRecord(59, 0, "alice", "a4", "3.3.3.3"))  // late, retained: amended
	f.feed(0, noise(91))                                    // 10:31: watermark 10:30, retention ends
	f.feed(0, liveRecord(59, 30, "alice", "a5", "3.3.3.3")) // too late: dead letter
	want := []string{"alice:early:1", "alice:update:2", "alice:final:3", "alice:amended:4"}
	if got := f.statuses(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("revisions = %v, want %v", got, want)
	}
	a := f.out.Alerts
	if a[0].Result.Count != 1 || a[1].Result.Count != 3 || a[2].Result.Count != 3 || a[3].Result.Count != 4 {
		t.Fatalf("counts %d %d %d %d", a[0].Result.Count, a[1].Result.Count, a[2].Result.Count, a[3].Result.Count)
	}
	if !a[2].TimeGenerated.Equal(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)) || !a[0].TimeGenerated.Equal(time.Date(2026, 5, 1, 9, 5, 0, 0, time.UTC)) {
		t.Fatalf("TimeGenerated: early %v final %v", a[0].TimeGenerated, a[2].TimeGenerated)
	}
	for _, x := range a[1:] {
		if x.AlertId != a[0].AlertId {
			t.Fatal("revisions of one alert have different ids")
		}
	}
	if len(f.out.DeadLetters) != 1 || f.out.DeadLetters[0].Reason != ReasonTooLate || f.out.DeadLetters[0].Position != 8 {
		t.Fatalf("dead letters = %+v", f.out.DeadLetters)
	}
	if f.e.Stats().Late != 1 {
		t.Fatalf("late = %d, want 1", f.e.Stats().Late)
	}
	if f.e.Stats().Duplicates != 1 {
		t.Fatalf("duplicates = %d", f.e.Stats().Duplicates)
	}
}

// Windows close by the least progress of the partitions: one that lags
// holds every window open (early alerts still go out at once), and one
// silent without being caught up with the brokers holds them however
// long. A user's sign-ins on two partitions (input not keyed, one
// instance) share one window.
func TestEngineClosesByTheLeastProgressOfItsPartitions(t *testing.T) {
	f := newFeeder(t, LiveConfig{Lateness: time.Minute, IdleTimeout: time.Minute})
	f.feed(0, liveRecord(30, 0, "alice", "a1", "1.1.1.1"))
	f.feed(1, liveRecord(20, 0, "bob", "b1", "1.1.1.2"))
	f.feed(1, liveRecord(25, 0, "alice", "a2", "1.1.1.3"))
	f.feed(0, noise(70)) // partition 0 is at 10:10, partition 1 at 09:25
	if got := f.statuses(); strings.Join(got, " ") != "alice:early:1 bob:early:1" {
		t.Fatalf("revisions %v: partition 1 lags, so nothing closes", got)
	}
	f.offset[1] += 5 // partition 1 has records not read yet
	f.clock.advance(2 * time.Hour)
	f.tick()
	if got := f.statuses(); len(got) != 2 {
		t.Fatalf("a partition behind the brokers closed by silence: %v", got)
	}
	f.offset[1] -= 5
	f.tick()
	if got := strings.Join(f.statuses(), " "); got != "alice:early:1 bob:early:1 alice:final:2 bob:final:2" {
		t.Fatalf("caught up and silent, partition 1 should let windows close: %v", got)
	}
	if a := f.out.Alerts[2]; a.Result.Count != 2 || len(a.Result.IPs) != 2 {
		t.Fatalf("alice's final counts %d sign-ins from %v, want both partitions' 2", a.Result.Count, a.Result.IPs)
	}
}

func TestEngineClosesWindowsUnderTotalSilence(t *testing.T) {
	lateness, idle := 5*time.Minute, time.Minute
	f := newFeeder(t, LiveConfig{Lateness: lateness, IdleTimeout: idle})
	f.clock.t = time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC) // live: event time is wall time
	f.feed(0, liveRecord(30, 0, "alice", "a1", "1.1.1.1"))
	end := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for f.clock.t.Before(end.Add(lateness + idle)) {
		f.tick()
		if len(f.statuses()) != 1 {
			t.Fatalf("closed at %v, before end + lateness + idle timeout", f.clock.t)
		}
		f.clock.advance(time.Second)
	}
	f.tick()
	if got := f.statuses(); len(got) != 2 || got[1] != "alice:final:2" {
		t.Fatalf("not closed at end + lateness + idle timeout (%v): %v", f.clock.t, got)
	}
}

func TestEngineCommittableHoldsBackForLiveState(t *testing.T) {
	f := newFeeder(t, LiveConfig{Lateness: time.Minute, Retention: 10 * time.Minute})
	tp := stream.TopicPartition{Topic: "signins", Partition: 0}
	f.feed(0, noise(1))
	f.feed(0, noise(2))
	if got := f.e.Committable()[tp]; got != 2 {
		t.Fatalf("committable = %d, want 2: nothing is held", got)
	}
	f.feed(0, liveRecord(3, 0, "alice", "a1", "1.1.1.1")) // offset 2 pins
	f.feed(0, noise(4))
	if got := f.e.Committable()[tp]; got != 2 {
		t.Fatalf("committable = %d, want 2: the window holds offset 2", got)
	}
	f.feed(0, noise(61)) // closes the window; retained until 10:10
	if got := f.e.Committable()[tp]; got != 2 {
		t.Fatalf("committable = %d, want 2 while the window is retained", got)
	}
	f.feed(0, noise(72)) // retention over
	if got := f.e.Committable()[tp]; got != 6 {
		t.Fatalf("committable = %d, want 6 once nothing is held", got)
	}
}

func TestEngineRejectsBadRecordsToDeadLetters(t *testing.T) {
	f := newFeeder(t, LiveConfig{})
	f.feed(3, "{oops")
	f.feed(3, `{"records":[{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T09:00:00Z","resultType":true,"properties":{"authenticationProtocol":"ropc"}}]}`)
	if len(f.out.DeadLetters) != 2 {
		t.Fatalf("dead letters = %+v", f.out.DeadLetters)
	}
	d := f.out.DeadLetters[1]
	if d.Reason != "wrong-type:ResultType" || d.Partition != 3 || d.Position != 1 || d.Source != "signins" || !bytes.Contains(d.Raw, []byte(`"resultType":true`)) {
		t.Fatalf("dead letter = %+v", d)
	}
}

func TestEngineStateIsBounded(t *testing.T) {
	f := newFeeder(t, LiveConfig{MemoryBudget: twoWindows})
	f.feed(0, liveRecord(1, 0, "a", "1", "1.1.1.1"))
	f.feed(0, liveRecord(2, 0, "b", "2", "1.1.1.1"))
	f.feed(0, liveRecord(3, 0, "c", "3", "1.1.1.1")) // refused
	f.feed(0, liveRecord(4, 0, "a", "4", "1.1.1.1")) // existing state: fine
	if len(f.out.DeadLetters) != 1 || f.out.DeadLetters[0].Reason != ReasonStateFull || f.e.Stats().Rejected[ReasonStateFull] != 1 {
		t.Fatalf("dead letters = %+v", f.out.DeadLetters)
	}
}

// generated returns the lines of a generated stream and its truth.
func generated(t testing.TB, cfg synth.Config) ([]string, *synth.Truth) {
	t.Helper()
	var buf bytes.Buffer
	truth, err := synth.Generate(context.Background(), cfg, &buf)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 2<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, truth
}

// revisionKey identifies an emitted revision; content is the alert without
// ProcessedAt, the one field allowed to differ between two emissions, and
// without IncidentId: incident membership before the crash is not part of
// the engine's replayed state (the runner restores it from the incidents
// topic).
func revisionKey(a Alert) string { return fmt.Sprintf("%s/%d", a.AlertId, a.Revision) }

func content(t *testing.T, a Alert) string {
	t.Helper()
	a.ProcessedAt = time.Time{}
	a.IncidentId = ""
	b, err := a.Marshal(FormatSentinel)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEngineFinalRowsMatchBatch(t *testing.T) {
	lines, truth := generated(t, synth.Config{Records: 20000, Seed: 11})
	f := newFeeder(t, LiveConfig{Lateness: time.Minute})
	for _, l := range lines {
		f.feed(0, l)
	}
	f.clock.advance(24 * time.Hour) // silence closes the rest
	f.tick()
	var finals []synth.TruthRow
	for _, a := range f.out.Alerts {
		if a.Status == StatusFinal {
			finals = append(finals, truthRow(a))
		}
	}
	// The generated stream is a few seconds out of order at most, well
	// within the lateness: the final rows are the batch truth exactly.
	if d := synth.Compare(truth.Rows, finals); !d.Empty() {
		var rep bytes.Buffer
		d.WriteReport(&rep, 5)
		t.Fatalf("final alerts differ from the truth:\n%s", rep.String())
	}
}

// TestEngineReplayFromCommitIsExact simulates a crash: a second engine
// starts from the offset the first could commit and re-creates every later
// revision with the same content.
func TestEngineReplayFromCommitIsExact(t *testing.T) {
	lines, _ := generated(t, synth.Config{Records: 20000, Seed: 12, ROPCRate: 0.02})
	full := newFeeder(t, LiveConfig{Lateness: time.Minute, UpdateInterval: time.Minute})
	tp := stream.TopicPartition{Topic: "signins", Partition: 0}
	crash := len(lines) * 2 / 3
	var commit int64
	seen := map[string]string{}
	for i, l := range lines {
		if i == crash {
			commit = full.e.Committable()[tp]
			for _, a := range full.out.Alerts {
				seen[revisionKey(a)] = content(t, a)
			}
		}
		full.feed(0, l)
	}
	if commit == 0 || commit >= int64(crash) {
		t.Fatalf("commit point %d of crash %d: the test needs state held across the crash", commit, crash)
	}
	restarted := newFeeder(t, LiveConfig{Lateness: time.Minute, UpdateInterval: time.Minute})
	restarted.offset[0] = commit
	for _, l := range lines[commit:] {
		restarted.feed(0, l)
	}
	want := map[string]string{}
	for _, a := range full.out.Alerts {
		want[revisionKey(a)] = content(t, a)
	}
	got := map[string]string{}
	for k, v := range seen {
		got[k] = v
	}
	for _, a := range restarted.out.Alerts {
		k := revisionKey(a)
		if prev, ok := got[k]; ok && prev != content(t, a) {
			t.Fatalf("revision %s re-created with other content:\nbefore %s\nafter  %s", k, prev, content(t, a))
		}
		got[k] = content(t, a)
	}
	if len(got) != len(want) {
		t.Fatalf("%d revisions after the restart, %d without a crash", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("revision %s missing or different after the restart", k)
		}
	}
}

func TestEngineIngestBatchEqualsIngest(t *testing.T) {
	lines, _ := generated(t, synth.Config{Records: 20000, Seed: 13, ROPCRate: 0.02})
	lines = append(lines, "{broken", noise(600))
	one := newFeeder(t, LiveConfig{Lateness: time.Minute})
	for _, l := range lines {
		one.feed(0, l)
	}
	batched := newFeeder(t, LiveConfig{Lateness: time.Minute})
	for i := 0; i < len(lines); i += 700 {
		var recs []stream.Record
		for _, l := range lines[i:min(i+700, len(lines))] {
			recs = append(recs, stream.Record{Topic: "signins", Offset: batched.offset[0], Value: []byte(l)})
			batched.offset[0]++
		}
		batched.e.IngestBatch(recs, &batched.out)
	}
	if len(one.out.Alerts) == 0 || len(one.out.Alerts) != len(batched.out.Alerts) || len(one.out.DeadLetters) != len(batched.out.DeadLetters) {
		t.Fatalf("one by one: %d alerts %d dead letters; batched: %d alerts %d dead letters",
			len(one.out.Alerts), len(one.out.DeadLetters), len(batched.out.Alerts), len(batched.out.DeadLetters))
	}
	for i := range one.out.Alerts {
		if a, b := content(t, one.out.Alerts[i]), content(t, batched.out.Alerts[i]); a != b {
			t.Fatalf("alert %d differs:\n%s\n%s", i, a, b)
		}
	}
	if a, b := one.e.Stats(), batched.e.Stats(); a.Messages != b.Messages || a.Verdicts != b.Verdicts || a.RejectedTotal() != b.RejectedTotal() {
		t.Fatalf("stats differ: %+v vs %+v", a, b)
	}
}

func TestEngineReconfigureKeepsState(t *testing.T) {
	f := newFeeder(t, LiveConfig{Lateness: time.Minute, UpdateInterval: time.Minute})
	f.e.SetVersion("v1")
	f.feed(0, liveRecord(5, 0, "alice", "a1", "10.1.1.1"))
	nets, err := ParseNetworkAllowlist(strings.NewReader("SearchKey\n10.1.1.0/24\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.e.Reconfigure(Config{Rule: SeedRule(), Allowlist: nets, Version: "v2"}); err != nil {
		t.Fatal(err)
	}
	f.feed(0, liveRecord(6, 0, "bob", "b1", "10.1.1.7"))    // now allowlisted: no alert
	f.feed(0, liveRecord(9, 0, "alice", "a2", "192.0.2.9")) // alice's window kept its state
	got := f.statuses()
	if strings.Join(got, " ") != "alice:early:1 alice:update:2" {
		t.Fatalf("revisions = %v", got)
	}
	a := f.out.Alerts
	if a[0].ConfigVersion != "v1" || a[1].ConfigVersion != "v2" || a[1].Result.Count != 2 {
		t.Fatalf("versions %q %q, count %d", a[0].ConfigVersion, a[1].ConfigVersion, a[1].Result.Count)
	}

	other := *SeedRule()
	other.QueryPeriod = 2 * time.Hour
	if err := f.e.Reconfigure(Config{Rule: &other, Version: "v3"}); err == nil || !strings.Contains(err.Error(), "queryPeriod") {
		t.Fatalf("a new window size was accepted: %v", err)
	}
	f.feed(0, liveRecord(20, 0, "alice", "a3", "198.51.100.1"))
	if last := f.out.Alerts[len(f.out.Alerts)-1]; last.ConfigVersion != "v2" {
		t.Fatalf("a refused configuration changed the version to %q", last.ConfigVersion)
	}
}

// TestEngineReloadUnderLoadLosesNothing reloads the configuration in the
// middle of a generated stream: the final rows are still the truth.
func TestEngineReloadUnderLoadLosesNothing(t *testing.T) {
	lines, truth := generated(t, synth.Config{Records: 20000, Seed: 17, ROPCRate: 0.02})
	f := newFeeder(t, LiveConfig{Lateness: time.Minute})
	f.e.SetVersion("before")
	for i, l := range lines {
		if i == len(lines)/2 {
			if err := f.e.Reconfigure(Config{Rule: SeedRule(), Version: "after"}); err != nil {
				t.Fatal(err)
			}
		}
		f.feed(0, l)
	}
	f.clock.advance(24 * time.Hour)
	f.tick()
	var finals []synth.TruthRow
	versions := map[string]int{}
	for _, a := range f.out.Alerts {
		versions[a.ConfigVersion]++
		if a.Status == StatusFinal {
			finals = append(finals, truthRow(a))
		}
	}
	if d := synth.Compare(truth.Rows, finals); !d.Empty() {
		t.Fatalf("a reload lost state: %d missing, %d extra, %d wrong", len(d.Missing), len(d.Extra), len(d.Wrong))
	}
	if versions["before"] == 0 || versions["after"] == 0 {
		t.Fatalf("alerts by version: %v", versions)
	}
}

// truthRow is an alert's result row in the generator's terms.
func truthRow(a Alert) synth.TruthRow {
	r := a.Result
	return synth.TruthRow{WindowEnd: a.WindowEnd, UserPrincipalName: r.UserPrincipalName, Count: r.Count,
		IPs: r.IPs, Countries: r.Countries, Apps: r.Apps, FirstSeen: r.FirstSeen, LastSeen: r.LastSeen, IPAddress: r.IPAddress}
}
