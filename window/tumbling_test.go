package window

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

type counter struct{ n int }

func newCounter(string, Bounds) *counter { return &counter{} }

func at(t *testing.T, s string) time.Time { return mustTime(t, "2026-05-01T"+s+"Z") }

func TestTumblingClosesOnWatermark(t *testing.T) {
	w := New(Aligner{Size: time.Hour}, 0, newCounter)
	for _, e := range []struct{ key, ts string }{
		{"bob", "09:10:00"}, {"alice", "09:20:00"}, {"bob", "10:00:00"}, {"bob", "10:00:01"},
	} {
		acc, _, late, _ := w.Get(e.key, at(t, e.ts))
		if late != OnTime {
			t.Fatalf("%v: lateness %v before any watermark", e, late)
		}
		acc.n++
	}
	if got := w.OpenWindows(); got != 3 {
		t.Fatalf("open windows = %d, want 3", got)
	}
	if got := w.Advance(at(t, "09:59:59")); len(got) != 0 {
		t.Fatalf("closed before the end: %v", got)
	}
	got := w.Advance(at(t, "10:00:00"))
	if len(got) != 2 || got[0].Key != "bob" || got[1].Key != "alice" {
		t.Fatalf("results = %+v, want bob then alice (first-seen order)", got)
	}
	if got[0].Acc.n != 2 {
		t.Fatalf("bob count = %d, want 2 (09:10 and exactly 10:00)", got[0].Acc.n)
	}
	if again := w.Advance(at(t, "10:30:00")); len(again) != 0 {
		t.Fatalf("a window came out twice: %+v", again)
	}
	if got := w.Advance(at(t, "11:00:00")); len(got) != 1 || got[0].Acc.n != 1 {
		t.Fatalf("second window = %+v", got)
	}
	if n := w.OpenWindows(); n != 0 {
		t.Fatalf("%d windows still open after the last close", n)
	}
}

func TestTumblingOrdersWindowsOldestFirst(t *testing.T) {
	w := New(Aligner{Size: time.Hour}, 0, newCounter)
	w.Get("c", at(t, "12:30:00"))
	w.Get("a", at(t, "10:30:00"))
	w.Get("b", at(t, "11:30:00"))
	got := w.Advance(at(t, "23:00:00"))
	var keys string
	for _, r := range got {
		keys += r.Key
	}
	if keys != "abc" {
		t.Fatalf("keys = %q, want windows oldest first", keys)
	}
}

func TestTumblingLateAndExpired(t *testing.T) {
	w := New(Aligner{Size: time.Hour}, 2*time.Hour, newCounter)
	acc, _, _, _ := w.Get("bob", at(t, "09:30:00"))
	acc.n++
	w.Advance(at(t, "10:05:00"))

	acc, b, late, created := w.Get("bob", at(t, "09:45:00"))
	if late != Late || created || acc == nil || acc.n != 1 {
		t.Fatalf("late event: acc=%v late=%v created=%v", acc, late, created)
	}
	if !b.End.Equal(at(t, "10:00:00")) {
		t.Fatalf("bounds = %v", b)
	}
	if _, _, late, created := w.Get("carol", at(t, "09:50:00")); late != Late || !created {
		t.Fatalf("late event of a new key in a retained window: late=%v created=%v", late, created)
	}
	if _, _, late, _ := w.Get("bob", at(t, "08:30:00")); late != Expired {
		t.Fatalf("event for a never-retained window: %v", late)
	}
	w.Advance(at(t, "12:00:00"))
	if acc, _, late, _ := w.Get("bob", at(t, "09:59:00")); late != Expired || acc != nil {
		t.Fatalf("after retention: acc=%v late=%v", acc, late)
	}
	if _, _, late, _ := w.Get("bob", at(t, "12:00:01")); late != OnTime {
		t.Fatalf("event after the watermark: %v", late)
	}
}

func TestTumblingIgnoresOlderWatermark(t *testing.T) {
	w := New(Aligner{Size: time.Hour}, 0, newCounter)
	w.Advance(at(t, "11:00:00"))
	w.Get("bob", at(t, "11:30:00"))
	if got := w.Advance(at(t, "10:00:00")); got != nil {
		t.Fatalf("older watermark closed %v", got)
	}
	if wm, ok := w.Watermark(); !ok || !wm.Equal(at(t, "11:00:00")) {
		t.Fatalf("watermark = %v %v", wm, ok)
	}
}

func ExampleTumbling() {
	type count struct{ n int }
	w := New(Aligner{Size: time.Hour}, 0, func(string, Bounds) *count { return &count{} })
	for _, ts := range []string{"2026-05-01T09:15:00Z", "2026-05-01T10:00:00Z", "2026-05-01T10:00:01Z"} {
		t, _ := time.Parse(time.RFC3339, ts)
		acc, _, _, _ := w.Get("alice@contoso.com", t)
		acc.n++
	}
	for _, r := range w.Advance(time.Date(2026, 5, 1, 11, 0, 0, 0, time.UTC)) {
		fmt.Println(r.Key, r.Bounds.End.Format(time.Kitchen), r.Acc.n)
	}
	// Output:
	// alice@contoso.com 10:00AM 2
	// alice@contoso.com 11:00AM 1
}

func TestTumblingEach(t *testing.T) {
	w := New(Aligner{Size: time.Hour}, time.Hour, newCounter)
	w.Get("a", at(t, "09:30:00"))
	w.Get("b", at(t, "10:30:00"))
	w.Advance(at(t, "10:00:00"))
	seen := map[string]bool{}
	w.Each(func(k string, b Bounds, _ *counter, open bool) { seen[k] = open })
	if len(seen) != 2 || seen["a"] || !seen["b"] {
		t.Fatalf("seen = %v, want a retained and b open", seen)
	}
}

func TestWindowsGroupsResultsByWindow(t *testing.T) {
	w := New(Aligner{Size: time.Hour}, 0, newCounter)
	w.Get("a", at(t, "09:10:00"))
	w.Get("b", at(t, "09:20:00"))
	w.Get("c", at(t, "10:10:00"))
	var got []string
	for group := range Windows(w.Advance(at(t, "12:00:00"))) {
		keys := ""
		for _, r := range group {
			keys += r.Key
		}
		got = append(got, keys)
	}
	if strings.Join(got, "|") != "ab|c" {
		t.Fatalf("groups = %v", got)
	}
}

func TestTumblingLookup(t *testing.T) {
	w := New(Aligner{Size: time.Hour}, time.Hour, newCounter)
	w.Get("a", at(t, "09:10:00"))
	if _, ok := w.Lookup("a", at(t, "09:59:00")); !ok {
		t.Fatal("open window not found")
	}
	w.Advance(at(t, "10:30:00"))
	if _, ok := w.Lookup("a", at(t, "09:20:00")); !ok {
		t.Fatal("retained window not found")
	}
	if _, ok := w.Lookup("b", at(t, "09:20:00")); ok {
		t.Fatal("a key never added was found")
	}
	if w.OpenWindows() != 0 {
		t.Fatal("Lookup created state")
	}
}

func TestTumblingDropsAndLateness(t *testing.T) {
	w := New(Aligner{Size: time.Hour}, time.Hour, newCounter)
	var dropped []string
	w.OnDrop(func(k string, b Bounds, _ *counter) { dropped = append(dropped, k+"@"+b.End.Format("15:04")) })
	w.Get("a", at(t, "09:10:00"))
	w.Get("b", at(t, "10:10:00"))
	if l := w.Lateness(at(t, "09:20:00")); l != OnTime {
		t.Fatalf("before any watermark: %v", l)
	}
	w.Advance(at(t, "10:00:00"))
	if l := w.Lateness(at(t, "09:20:00")); l != Late {
		t.Fatalf("closed and retained: %v", l)
	}
	if w.HeldWindows() != 2 || len(dropped) != 0 {
		t.Fatalf("held %d, dropped %v", w.HeldWindows(), dropped)
	}
	w.Advance(at(t, "11:00:00")) // closes b, lets a go
	if fmt.Sprint(dropped) != "[a@10:00]" {
		t.Fatalf("dropped %v, want a's window once its retention passed", dropped)
	}
	if l := w.Lateness(at(t, "09:20:00")); l != Expired {
		t.Fatalf("past retention: %v", l)
	}
	none := New(Aligner{Size: time.Hour}, 0, newCounter)
	var n int
	none.OnDrop(func(string, Bounds, *counter) { n++ })
	none.Get("a", at(t, "09:10:00"))
	if got := none.Advance(at(t, "10:00:00")); len(got) != 1 || n != 1 {
		t.Fatalf("without retention: %d results, %d dropped", len(got), n)
	}
}

func TestTumblingForget(t *testing.T) {
	w := New(Aligner{Size: time.Hour}, time.Hour, newCounter)
	var dropped []string
	w.OnDrop(func(k string, _ Bounds, _ *counter) { dropped = append(dropped, k) })
	w.Get("a", at(t, "09:10:00"))
	w.Get("b", at(t, "09:20:00"))
	w.Get("a", at(t, "10:10:00"))
	w.Advance(at(t, "10:00:00"))
	w.Forget(func(k string, _ Bounds, _ *counter) bool { return k == "a" })
	if fmt.Sprint(dropped) != "[a a]" || w.HeldWindows() != 1 {
		t.Fatalf("dropped %v, held %d", dropped, w.HeldWindows())
	}
	if l := w.Lateness(at(t, "09:30:00")); l != Late {
		t.Fatalf("a window with nothing left is still closed: %v", l)
	}
	if got := w.Advance(at(t, "11:00:00")); len(got) != 0 {
		t.Fatalf("a forgotten accumulator came out: %v", got)
	}
}

// A held accumulator outlives its retention, alone in its slot, until the
// first Advance after its hold ends.
func TestTumblingHoldKeepsPastRetention(t *testing.T) {
	w := New(Aligner{Size: time.Hour}, time.Hour, newCounter)
	var dropped []string
	w.OnDrop(func(k string, b Bounds, _ *counter) { dropped = append(dropped, k+"@"+b.End.Format("15:04")) })
	w.Hold(func(_ string, _ Bounds, c *counter) bool { return c.n > 0 })
	waiting, _, _, _ := w.Get("a", at(t, "09:10:00"))
	waiting.n = 1
	w.Get("b", at(t, "09:20:00"))
	w.Advance(at(t, "11:00:00")) // past the 10:00 window's retention
	if fmt.Sprint(dropped) != "[b@10:00]" || w.HeldWindows() != 1 {
		t.Fatalf("dropped %v, held %d: want b dropped and a held", dropped, w.HeldWindows())
	}
	if got, ok := w.Lookup("a", at(t, "09:10:00")); !ok || got != waiting {
		t.Fatal("the held accumulator is gone")
	}
	waiting.n = 0
	w.Advance(at(t, "11:00:01"))
	if fmt.Sprint(dropped) != "[b@10:00 a@10:00]" || w.HeldWindows() != 0 {
		t.Fatalf("dropped %v, held %d after the hold ended", dropped, w.HeldWindows())
	}
}
