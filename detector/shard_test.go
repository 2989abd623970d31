package detector

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
)

const shardInput = "signins"

// shardLog builds the records of one repartition partition.
type shardLog struct {
	t    *testing.T
	recs []stream.Record
}

func (l *shardLog) add(kind string, v any) {
	value, err := json.Marshal(v)
	if err != nil {
		l.t.Fatal(err)
	}
	l.recs = append(l.recs, stream.Record{
		Topic: "g-repartition", Offset: int64(len(l.recs)), Value: value,
		Headers: []stream.Header{{Key: KindHeader, Value: []byte(kind)}},
	})
}

// signIn adds a qualifying sign-in of user at minute m past 10:00 read
// from input partition p at offset off.
func (l *shardLog) signIn(user string, m int, ip string, p int32, off int64) {
	l.add(KindSignIn, routedSignIn{
		Time: at10(m), User: user, IP: ip, App: "python-requests", Protocol: "ropc", Result: "0",
		Id: fmt.Sprintf("%s-%d-%d", user, p, off), Topic: shardInput, Partition: p, Offset: off,
	})
}

// progress adds a marker: input partition p (of two) reached minute m.
func (l *shardLog) progress(p int32, m int, caughtUp bool, silent time.Duration) {
	l.add(KindProgress, progressMarker{Topics: []string{shardInput}, Sources: []sourceProgress{{
		Topic: shardInput, Partition: p, Partitions: 2, Event: at10(m), CaughtUp: caughtUp, SilentMillis: silent.Milliseconds(),
	}}})
}

func at10(m int) time.Time {
	return time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(m) * time.Minute)
}

// testClock is a wall clock the shard tests move.
var testClock = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func shardRule(incidents bool) *Rule {
	r := *SeedRule()
	r.Incident.CreateIncident = incidents
	return &r
}

func newTestShard(t *testing.T) *Shard { return newRuleShard(t, shardRule(false), 0) }

func newRuleShard(t *testing.T, rule *Rule, budget int64) *Shard {
	t.Helper()
	now := func() time.Time { return testClock }
	r, err := NewRouter(LiveConfig{Rule: rule, Lateness: time.Minute, UpdateInterval: time.Minute, MemoryBudget: budget, Now: now},
		"g-repartition", 1, map[string]int32{shardInput: 2}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r.NewShard(0)
}

// run applies recs and returns the revisions sent: status, revision,
// count, IPs.
func run(s *Shard, recs []stream.Record) []string {
	var out Output
	for _, r := range recs {
		s.Apply(r, &out)
	}
	return described(out.Alerts)
}

func described(alerts []Alert) []string {
	var got []string
	for _, a := range alerts {
		got = append(got, fmt.Sprintf("%s %d %s %d %v %s", a.Status, a.Revision, a.Result.UserPrincipalName, a.Result.Count, a.Result.IPs, a.IncidentId))
	}
	return got
}

// loop runs a shard as a service does: records it writes to its own
// partition are appended to the log and applied in turn. It returns the
// whole log and the revisions sent.
func loop(s *Shard, l *shardLog) []string {
	var sent []string
	for i := 0; i < len(l.recs); i++ {
		var out Output
		s.Apply(l.recs[i], &out)
		sent = append(sent, described(out.Alerts)...)
		for _, r := range out.Internal {
			r.Offset = int64(len(l.recs))
			l.recs = append(l.recs, r)
		}
	}
	return sent
}

// TestShardEarlyAlertsDoNotWait: a sign-in is applied when it arrives,
// whatever the other input partitions are doing; its early alert goes out
// at once.
func TestShardEarlyAlertsDoNotWait(t *testing.T) {
	l := &shardLog{t: t}
	l.progress(0, 2, false, 0)
	l.progress(1, -600, false, 0) // ten hours behind
	l.signIn("alice@contoso.com", 5, "203.0.113.1", 0, 3)
	got := run(newTestShard(t), l.recs)
	if len(got) != 1 || got[0] != "early 1 alice@contoso.com 1 [203.0.113.1] " {
		t.Fatalf("revisions %q, want the early alert at once", got)
	}
}

// TestShardFinalRowsDoNotDependOnInterleaving: the same sign-ins and
// progress, arriving in two interleavings, give the same final row (the
// early and update revisions follow arrival).
func TestShardFinalRowsDoNotDependOnInterleaving(t *testing.T) {
	a := &shardLog{t: t}
	a.signIn("alice@contoso.com", 20, "203.0.113.2", 1, 7)
	a.signIn("alice@contoso.com", 10, "203.0.113.1", 0, 3)
	a.progress(0, 30, false, 0)
	a.progress(1, 30, false, 0)
	a.signIn("alice@contoso.com", 45, "203.0.113.3", 0, 9)
	a.progress(0, 80, false, 0)
	a.progress(1, 80, false, 0)

	// Each input partition's sign-ins in their order there, as a router
	// routes them.
	b := &shardLog{t: t}
	b.progress(1, 30, false, 0)
	b.signIn("alice@contoso.com", 20, "203.0.113.2", 1, 7)
	b.signIn("alice@contoso.com", 10, "203.0.113.1", 0, 3)
	b.progress(0, 30, false, 0)
	b.signIn("alice@contoso.com", 45, "203.0.113.3", 0, 9)
	b.progress(1, 80, false, 0)
	b.progress(0, 80, false, 0)

	want := "alice@contoso.com 3 [203.0.113.1 203.0.113.2 203.0.113.3] "
	for name, log := range map[string]*shardLog{"a": a, "b": b} {
		got := run(newTestShard(t), log.recs)
		last := got[len(got)-1]
		if !strings.HasPrefix(last, "final ") || !strings.HasSuffix(last, want) {
			t.Errorf("interleaving %s: revisions %q, want a final %q", name, got, want)
		}
	}
}

func TestShardCloses(t *testing.T) {
	tests := []struct {
		name string
		log  func(*shardLog)
		want string // the last revision's status
	}{
		{"open until every input partition reports", func(l *shardLog) {
			l.signIn("bob@contoso.com", 5, "203.0.113.9", 0, 1)
			l.progress(0, 90, false, 0)
		}, "early"},
		{"closed once both passed its end and the lateness", func(l *shardLog) {
			l.signIn("bob@contoso.com", 5, "203.0.113.9", 0, 1)
			l.progress(0, 90, false, 0)
			l.progress(1, 61, false, 0)
		}, "final"},
		{"open while a partition is behind", func(l *shardLog) {
			l.signIn("bob@contoso.com", 5, "203.0.113.9", 0, 1)
			l.progress(0, 90, false, 0)
			l.progress(1, 40, false, 0)
		}, "early"},
		{"a caught-up idle partition does not hold it", func(l *shardLog) {
			l.signIn("bob@contoso.com", 5, "203.0.113.9", 0, 1)
			l.progress(0, 90, false, 0)
			l.progress(1, 4, true, 2*time.Minute)
		}, "final"},
		{"a silent partition that is not caught up holds it, however long", func(l *shardLog) {
			l.signIn("bob@contoso.com", 5, "203.0.113.9", 0, 1)
			l.progress(0, 90, false, 0)
			l.progress(1, 4, false, 10*time.Hour)
		}, "early"},
		{"a reporter restarting behind does not take progress back", func(l *shardLog) {
			l.signIn("bob@contoso.com", 5, "203.0.113.9", 0, 1)
			l.progress(1, 90, false, 0)
			l.progress(1, 2, false, 0)
			l.progress(0, 90, false, 0)
		}, "final"},
		{"under total silence of caught-up partitions the clock closes it", func(l *shardLog) {
			l.signIn("bob@contoso.com", 5, "203.0.113.9", 0, 1)
			l.progress(0, 6, true, 70*time.Minute)
			l.progress(1, 6, true, 70*time.Minute)
		}, "final"},
		{"silence of a partition that is not caught up is not silence", func(l *shardLog) {
			l.signIn("bob@contoso.com", 5, "203.0.113.9", 0, 1)
			l.progress(0, 6, true, 70*time.Minute)
			l.progress(1, 6, false, 70*time.Minute)
		}, "early"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &shardLog{t: t}
			tt.log(l)
			got := run(newTestShard(t), l.recs)
			if len(got) == 0 || !strings.HasPrefix(got[len(got)-1], tt.want+" ") {
				t.Fatalf("revisions %q, want the last %s", got, tt.want)
			}
		})
	}
}

// restoreLog is a log with sign-ins arriving out of event-time order (so
// a window's lowest offset is not its first sign-in in time), duplicates
// routed again, incidents through the log and closes.
func restoreLog(t *testing.T, s *Shard) (*shardLog, []string) {
	l := &shardLog{t: t}
	for i := range 12 {
		m := 40 - i*3
		if i%2 == 0 {
			m = i * 9
		}
		l.signIn(fmt.Sprintf("u%d@contoso.com", i%3), m, fmt.Sprintf("203.0.113.%d", i%5), int32(i%2), int64(i))
		l.progress(int32(i%2), m+3, false, 0)
		l.progress(int32((i+1)%2), m+1, false, 0)
		if i == 6 {
			l.signIn("u0@contoso.com", 0, "203.0.113.0", 0, 0) // routed again
		}
	}
	l.progress(0, 400, false, 0)
	l.progress(1, 400, false, 0)
	return l, loop(s, l)
}

// TestShardRestoreRebuildsTheSameState cuts a shard's log at every offset:
// a shard rebuilt from the state there emits, from then on, exactly what
// the original does, incidents included.
func TestShardRestoreRebuildsTheSameState(t *testing.T) {
	for _, incidents := range []bool{false, true} {
		t.Run(fmt.Sprintf("incidents %v", incidents), func(t *testing.T) {
			l, _ := restoreLog(t, newRuleShard(t, shardRule(incidents), 0))
			for cut := 1; cut < len(l.recs); cut++ {
				orig := newRuleShard(t, shardRule(incidents), 0)
				run(orig, l.recs[:cut])
				testClock = testClock.Add(checkpointEvery)
				st, ok := orig.State()
				if !ok {
					t.Fatal("no state")
				}
				raw, _ := json.Marshal(st)
				back, err := DecodeShardState(raw)
				if err != nil {
					t.Fatal(err)
				}
				rebuilt := newRuleShard(t, shardRule(incidents), 0)
				rebuilt.Restore(back, nil)
				run(rebuilt, l.recs[back.From:back.Through])
				rebuilt.Restored(back.Through)
				want, got := run(orig, l.recs[cut:]), run(rebuilt, l.recs[cut:])
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("cut at %d (state from %d): rebuilt emits\n%q\nwant\n%q", cut, back.From, got, want)
				}
			}
		})
	}
}

// TestShardRebuildKeepsEverySignIn: a sign-in applied after one at a
// higher offset of the same window (it arrived earlier but was applied
// later) is still replayed by a rebuild from a checkpoint taken between
// them. Issue 10, item 1.
func TestShardRebuildKeepsEverySignIn(t *testing.T) {
	l := &shardLog{t: t}
	l.progress(0, 10, false, 0)
	l.progress(1, 10, false, 0)
	l.signIn("alice@contoso.com", 30, "203.0.113.30", 0, 1) // offset 2
	l.progress(0, 12, false, 0)                             // offset 3
	l.signIn("alice@contoso.com", 5, "203.0.113.5", 1, 1)   // offset 4
	l.progress(0, 40, false, 0)
	l.progress(1, 40, false, 0)
	orig := newTestShard(t)
	run(orig, l.recs[:4])
	testClock = testClock.Add(checkpointEvery)
	orig.State() // a checkpoint at offset 4
	run(orig, l.recs[4:])
	testClock = testClock.Add(checkpointEvery)
	st, _ := orig.State()
	rebuilt := newTestShard(t)
	rebuilt.Restore(st, nil)
	run(rebuilt, l.recs[st.From:st.Through])
	rebuilt.Restored(st.Through)
	l.progress(0, 90, false, 0)
	l.progress(1, 90, false, 0)
	want, got := run(orig, l.recs[len(l.recs)-2:]), run(rebuilt, l.recs[len(l.recs)-2:])
	if fmt.Sprint(got) != fmt.Sprint(want) || !strings.Contains(fmt.Sprint(want), " 2 [203.0.113.5 203.0.113.30]") {
		t.Fatalf("rebuilt from offset %d: final %q, want %q with both sign-ins", st.From, got, want)
	}
}

func TestShardDeadLettersForeignRecords(t *testing.T) {
	s := newTestShard(t)
	var out Output
	for i, r := range []stream.Record{
		{Value: []byte(`{"u":"x"}`), Headers: []stream.Header{{Key: KindHeader, Value: []byte(KindSignIn)}}},
		{Value: []byte(`not json`), Headers: []stream.Header{{Key: KindHeader, Value: []byte(KindProgress)}}},
		{Value: []byte(`{}`)},
	} {
		r.Offset = int64(i)
		s.Apply(r, &out)
	}
	if len(out.DeadLetters) != 3 || out.DeadLetters[0].Reason != ReasonInvalidInternal {
		t.Fatalf("dead letters %+v", out.DeadLetters)
	}
}

// FuzzShardApply: no repartition record, however malformed, stops a shard.
func FuzzShardApply(f *testing.F) {
	f.Add(KindSignIn, []byte(`{"t":"2026-05-01T10:00:00Z","u":"a@b","st":"signins","sp":0,"so":1}`))
	f.Add(KindProgress, []byte(`{"topics":["signins"],"sources":[{"topic":"signins","partition":0,"partitions":1,"event":"2026-05-01T11:00:00Z","silent_ms":0,"caught_up":false}]}`))
	f.Add("", []byte(`{}`))
	f.Fuzz(func(t *testing.T, kind string, value []byte) {
		s := newTestShard(t)
		var out Output
		for i := range 3 {
			s.Apply(stream.Record{Offset: int64(i), Value: value, Headers: []stream.Header{{Key: KindHeader, Value: []byte(kind)}}}, &out)
		}
		s.State()
	})
}

// FuzzShardApplyKinds: records of every kind, however malformed, in any
// order, never stop a shard.
func FuzzShardApplyKinds(f *testing.F) {
	f.Add([]byte(`{"ws":"2026-05-01T09:00:00Z","we":"2026-05-01T10:00:00Z","status":"early","rev":1,"tg":"2026-05-01T09:30:00Z","row":{"IPs":["x"]}}`),
		[]byte(`{"alert":"a","u":"","we":"2026-05-01T10:00:00Z","incident":"i"}`))
	f.Fuzz(func(t *testing.T, alert, incident []byte) {
		s := newRuleShard(t, shardRule(true), 0)
		var out Output
		for i, kind := range []string{KindAlert, KindIncident, KindRefusal, KindAlert} {
			v := alert
			if kind != KindAlert {
				v = incident
			}
			s.Apply(stream.Record{Offset: int64(i), Value: v, Headers: []stream.Header{{Key: KindHeader, Value: []byte(kind)}}}, &out)
		}
		s.State()
	})
}

// FuzzDecodeShardState: a state record never panics the decoder, and one
// it accepts has its offsets in order.
func FuzzDecodeShardState(f *testing.F) {
	f.Add([]byte(`{"partition":0,"through":10,"from":2,"sources":[],"watermark":"2026-05-01T10:00:00Z"}`))
	f.Fuzz(func(t *testing.T, value []byte) {
		st, err := DecodeShardState(value)
		if err == nil && (st.From < 0 || st.Through < st.From) {
			t.Fatalf("accepted %+v", st)
		}
	})
}

// A window's final revision that waits for its incident goes out when the
// incident comes, though the progress that closed the window also passed
// its retention: the window is held for it, not dropped with the revision.
func TestShardFinalWaitingForItsIncidentOutlivesRetention(t *testing.T) {
	s := newRuleShard(t, shardRule(true), 0)
	l := &shardLog{t: t}
	l.signIn("alice@contoso.com", 5, "203.0.113.1", 0, 0)
	l.progress(0, 400, false, 0) // past 11:00, its lateness and retention
	l.progress(1, 400, false, 0)
	sent := loop(s, l)
	if len(sent) != 2 || !strings.HasPrefix(sent[0], "early 1 alice@contoso.com 1") || !strings.HasPrefix(sent[1], "final 2 alice@contoso.com 1") {
		t.Fatalf("sent %q, want the early and the final revision", sent)
	}
	if strings.HasSuffix(sent[1], " ") || s.lc.win.HeldWindows() != 0 {
		t.Fatalf("final %q without its incident, or its window still held (%d)", sent[1], s.lc.win.HeldWindows())
	}
}
