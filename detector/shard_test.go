package detector

import (
	"encoding/json"
	"fmt"
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

func newTestShard(t *testing.T) *Shard {
	t.Helper()
	r, err := NewRouter(LiveConfig{Rule: SeedRule(), Lateness: time.Minute, UpdateInterval: time.Minute}, "g-repartition", 1, map[string]int32{shardInput: 2})
	if err != nil {
		t.Fatal(err)
	}
	return r.NewShard(0)
}

// run applies recs and returns the revisions: status, revision, count, IPs.
func run(s *Shard, recs []stream.Record) []string {
	var out Output
	for _, r := range recs {
		s.Apply(r, &out)
	}
	var got []string
	for _, a := range out.Alerts {
		got = append(got, fmt.Sprintf("%s %d %s %d %v", a.Status, a.Revision, a.Result.UserPrincipalName, a.Result.Count, a.Result.IPs))
	}
	return got
}

func TestShardAppliesSignInsInEventTimeOrder(t *testing.T) {
	// The same sign-ins and progress, arriving in two interleavings: the
	// revisions are the same, built in event-time order.
	a := &shardLog{t: t}
	a.signIn("alice@contoso.com", 20, "203.0.113.2", 1, 7)
	a.signIn("alice@contoso.com", 10, "203.0.113.1", 0, 3)
	a.progress(0, 30, false, 0)
	a.progress(1, 30, false, 0)
	a.signIn("alice@contoso.com", 45, "203.0.113.3", 0, 9)
	a.progress(0, 80, false, 0)
	a.progress(1, 80, false, 0)

	b := &shardLog{t: t}
	b.progress(1, 30, false, 0)
	b.signIn("alice@contoso.com", 10, "203.0.113.1", 0, 3)
	b.signIn("alice@contoso.com", 20, "203.0.113.2", 1, 7)
	b.progress(0, 30, false, 0)
	b.signIn("alice@contoso.com", 45, "203.0.113.3", 0, 9)
	b.progress(1, 80, false, 0)
	b.progress(0, 80, false, 0)

	want := []string{
		"early 1 alice@contoso.com 1 [203.0.113.1]",
		"update 2 alice@contoso.com 2 [203.0.113.1 203.0.113.2]",
		"update 3 alice@contoso.com 3 [203.0.113.1 203.0.113.2 203.0.113.3]",
		"final 4 alice@contoso.com 3 [203.0.113.1 203.0.113.2 203.0.113.3]",
	}
	for name, log := range map[string]*shardLog{"a": a, "b": b} {
		if got := run(newTestShard(t), log.recs); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("interleaving %s:\n got %q\nwant %q", name, got, want)
		}
	}
}

func TestShardProgress(t *testing.T) {
	tests := []struct {
		name string
		log  func(*shardLog)
		want int // revisions emitted
	}{
		{"held until every input partition reports", func(l *shardLog) {
			l.signIn("bob@contoso.com", 5, "203.0.113.9", 0, 1)
			l.progress(0, 30, false, 0)
		}, 0},
		{"released once both passed it", func(l *shardLog) {
			l.signIn("bob@contoso.com", 5, "203.0.113.9", 0, 1)
			l.progress(0, 30, false, 0)
			l.progress(1, 6, false, 0)
		}, 1},
		{"held by a partition behind it", func(l *shardLog) {
			l.signIn("bob@contoso.com", 5, "203.0.113.9", 0, 1)
			l.progress(0, 30, false, 0)
			l.progress(1, 4, false, 0)
		}, 0},
		{"not held by a caught-up quiet partition", func(l *shardLog) {
			l.signIn("bob@contoso.com", 5, "203.0.113.9", 0, 1)
			l.progress(0, 30, false, 0)
			l.progress(1, 4, true, time.Second)
		}, 1},
		{"held by a caught-up partition not yet quiet", func(l *shardLog) {
			l.signIn("bob@contoso.com", 5, "203.0.113.9", 0, 1)
			l.progress(0, 30, false, 0)
			l.progress(1, 4, true, 100*time.Millisecond)
		}, 0},
		{"held by a partition with backlog however silent", func(l *shardLog) {
			l.signIn("bob@contoso.com", 5, "203.0.113.9", 0, 1)
			l.progress(0, 30, false, 0)
			l.progress(1, 4, false, time.Hour)
		}, 0},
		{"a reporter restarting behind does not take progress back", func(l *shardLog) {
			l.progress(1, 30, false, 0)
			l.progress(1, 2, false, 0)
			l.signIn("bob@contoso.com", 5, "203.0.113.9", 0, 1)
			l.progress(0, 30, false, 0)
		}, 1},
		{"closed by progress minus lateness", func(l *shardLog) {
			l.signIn("bob@contoso.com", 5, "203.0.113.9", 0, 1)
			l.progress(0, 61, false, 0)
			l.progress(1, 61, false, 0)
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &shardLog{t: t}
			tt.log(l)
			if got := run(newTestShard(t), l.recs); len(got) != tt.want {
				t.Fatalf("revisions %q, want %d", got, tt.want)
			}
		})
	}
}

// TestShardRestoreRebuildsTheSameState cuts a shard's log at every offset:
// a shard rebuilt from the state there emits, from then on, exactly what
// the original does.
func TestShardRestoreRebuildsTheSameState(t *testing.T) {
	l := &shardLog{t: t}
	for i := range 12 {
		m := i * 9
		l.signIn(fmt.Sprintf("u%d@contoso.com", i%3), m, fmt.Sprintf("203.0.113.%d", i%5), int32(i%2), int64(i))
		l.progress(int32(i%2), m+3, false, 0)
		l.progress(int32((i+1)%2), m+1, false, 0)
	}
	l.progress(0, 400, false, 0)
	l.progress(1, 400, false, 0)
	for cut := 1; cut < len(l.recs); cut++ {
		orig := newTestShard(t)
		run(orig, l.recs[:cut])
		st, ok := orig.State()
		if !ok {
			t.Fatal("no state")
		}
		raw, _ := json.Marshal(st)
		back, err := DecodeShardState(raw)
		if err != nil {
			t.Fatal(err)
		}
		rebuilt := newTestShard(t)
		rebuilt.Restore(back)
		run(rebuilt, l.recs[back.From:back.Through])
		rebuilt.Restored(back.Through)
		want, got := run(orig, l.recs[cut:]), run(rebuilt, l.recs[cut:])
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("cut at %d (state from %d): rebuilt emits\n%q\nwant\n%q", cut, back.From, got, want)
		}
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
