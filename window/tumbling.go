package window

import (
	"iter"
	"slices"
	"time"
)

// Lateness says how an event relates to the windows already closed.
type Lateness uint8

const (
	// OnTime: the event's window is still open.
	OnTime Lateness = iota
	// Late: the event's window has closed but its state is retained; the
	// accumulator returned is the closed window's, for amending its result.
	Late
	// Expired: the event's window closed longer than the retention ago; no
	// state exists for it and the event must be handled elsewhere.
	Expired
)

// Result is one window of one key, handed out when the window closes.
type Result[K comparable, A any] struct {
	Key    K
	Bounds Bounds
	Acc    A
}

// Tumbling holds accumulators per (key, window). A is usually a pointer that
// the caller mutates in place.
type Tumbling[K comparable, A any] struct {
	align     Aligner
	retention time.Duration
	newAcc    func(K, Bounds) A

	open     map[time.Time]*slot[K, A] // by window end
	closed   map[time.Time]*slot[K, A] // retained after close, by window end
	closedTo time.Time                 // every window ending at or before it is closed
	started  bool
	onDrop   func(K, Bounds, A)
	hold     func(K, Bounds, A) bool
}

type slot[K comparable, A any] struct {
	bounds Bounds
	order  []K // keys in first-seen order, so results are deterministic
	accs   map[K]A
}

// New returns an empty Tumbling. Retention is how long past its end a
// closed window's state is kept for late events; zero keeps none. newAcc
// makes the accumulator of a new (key, window).
func New[K comparable, A any](align Aligner, retention time.Duration, newAcc func(K, Bounds) A) *Tumbling[K, A] {
	return &Tumbling[K, A]{
		align:     align,
		retention: retention,
		newAcc:    newAcc,
		open:      make(map[time.Time]*slot[K, A]),
		closed:    make(map[time.Time]*slot[K, A]),
	}
}

// OnDrop sets a function called for every accumulator whose state is let
// go: when its window closes without retention, or when the retention of a
// closed window passes. Its results were handed out by Advance before.
func (t *Tumbling[K, A]) OnDrop(fn func(key K, b Bounds, acc A)) { t.onDrop = fn }

// Hold keeps a retained accumulator past its retention for as long as fn
// says so: it is dropped at the first Advance after fn returns false.
func (t *Tumbling[K, A]) Hold(fn func(key K, b Bounds, acc A) bool) { t.hold = fn }

// Lateness says how an event at ts would relate to the windows already
// closed, without creating state: OnTime, Late (its closed window is
// retained) or Expired.
func (t *Tumbling[K, A]) Lateness(ts time.Time) Lateness {
	b := t.align.Of(ts)
	if !t.started || b.End.After(t.closedTo) {
		return OnTime
	}
	if _, ok := t.closed[b.End]; ok {
		return Late
	}
	return Expired
}

// Aligner returns the window grid.
func (t *Tumbling[K, A]) Aligner() Aligner { return t.align }

// Get returns the accumulator of key in the window holding ts, creating it
// when the window is open. For a closed window it returns the retained
// accumulator (Late) or the zero A (Expired). created says whether a new
// accumulator was made.
func (t *Tumbling[K, A]) Get(key K, ts time.Time) (acc A, b Bounds, late Lateness, created bool) {
	b = t.align.Of(ts)
	if t.started && !b.End.After(t.closedTo) {
		s, ok := t.closed[b.End]
		if !ok {
			var zero A
			return zero, b, Expired, false
		}
		acc, created = s.get(key, b, t.newAcc)
		return acc, b, Late, created
	}
	s, ok := t.open[b.End]
	if !ok {
		s = &slot[K, A]{bounds: b, accs: make(map[K]A)}
		t.open[b.End] = s
	}
	acc, created = s.get(key, b, t.newAcc)
	return acc, b, OnTime, created
}

func (s *slot[K, A]) get(key K, b Bounds, newAcc func(K, Bounds) A) (A, bool) {
	if acc, ok := s.accs[key]; ok {
		return acc, false
	}
	acc := newAcc(key, b)
	s.accs[key] = acc
	s.order = append(s.order, key)
	return acc, true
}

// Advance closes every open window whose end is at or before watermark and
// returns their results, oldest window first and keys in first-seen order.
// It never returns a window twice. It also drops retained windows whose end
// plus retention is at or before watermark. A watermark older than a previous
// one is ignored. It is Close, then Expire.
func (t *Tumbling[K, A]) Advance(watermark time.Time) []Result[K, A] {
	out := t.Close(watermark)
	t.Expire()
	return out
}

// Close is Advance without dropping anything: the windows it closes are
// retained (without retention, until Expire), so that the caller can act on
// their results before Expire consults Hold.
func (t *Tumbling[K, A]) Close(watermark time.Time) []Result[K, A] {
	if t.started && !watermark.After(t.closedTo) {
		return nil
	}
	t.started = true
	t.closedTo = watermark
	var ends []time.Time
	for end := range t.open {
		if !end.After(watermark) {
			ends = append(ends, end)
		}
	}
	slices.SortFunc(ends, func(a, b time.Time) int { return a.Compare(b) })
	var out []Result[K, A]
	for _, end := range ends {
		s := t.open[end]
		delete(t.open, end)
		for _, k := range s.order {
			out = append(out, Result[K, A]{Key: k, Bounds: s.bounds, Acc: s.accs[k]})
		}
		t.closed[end] = s
	}
	return out
}

// Expire drops the retained windows whose end plus retention is at or
// before the watermark, but for the accumulators Hold keeps.
func (t *Tumbling[K, A]) Expire() {
	var expired []time.Time
	for end := range t.closed {
		if !end.Add(t.retention).After(t.closedTo) {
			expired = append(expired, end)
		}
	}
	slices.SortFunc(expired, func(a, b time.Time) int { return a.Compare(b) })
	for _, end := range expired {
		s := t.closed[end]
		held := t.held(s)
		t.drop(s)
		if len(held.order) == 0 {
			delete(t.closed, end)
		} else {
			t.closed[end] = held
		}
	}
}

// held takes out of s, into a slot of their own, the accumulators that
// hold says to keep.
func (t *Tumbling[K, A]) held(s *slot[K, A]) *slot[K, A] {
	kept := &slot[K, A]{bounds: s.bounds, accs: map[K]A{}}
	if t.hold == nil {
		return kept
	}
	order := s.order[:0]
	for _, k := range s.order {
		if t.hold(k, s.bounds, s.accs[k]) {
			kept.order = append(kept.order, k)
			kept.accs[k] = s.accs[k]
			delete(s.accs, k)
			continue
		}
		order = append(order, k)
	}
	s.order = order
	return kept
}

func (t *Tumbling[K, A]) drop(s *slot[K, A]) {
	if t.onDrop == nil {
		return
	}
	for _, k := range s.order {
		t.onDrop(k, s.bounds, s.accs[k])
	}
}

// Watermark returns the latest watermark passed to Advance, and false before
// the first call.
func (t *Tumbling[K, A]) Watermark() (time.Time, bool) { return t.closedTo, t.started }

// HeldWindows returns the number of (key, window) accumulators held, open
// or retained.
func (t *Tumbling[K, A]) HeldWindows() int {
	n := t.OpenWindows()
	for _, s := range t.closed {
		n += len(s.accs)
	}
	return n
}

// OpenWindows returns the number of open (key, window) accumulators.
func (t *Tumbling[K, A]) OpenWindows() int {
	n := 0
	for _, s := range t.open {
		n += len(s.accs)
	}
	return n
}

// Each calls fn for every accumulator held, open or retained, in no
// particular order. fn must not add or close windows.
func (t *Tumbling[K, A]) Each(fn func(key K, b Bounds, acc A, open bool)) {
	for _, s := range t.open {
		for k, acc := range s.accs {
			fn(k, s.bounds, acc, true)
		}
	}
	for _, s := range t.closed {
		for k, acc := range s.accs {
			fn(k, s.bounds, acc, false)
		}
	}
}

// Forget lets go of every accumulator, open or retained, for which drop
// returns true (OnDrop is told); their windows carry on for other keys.
func (t *Tumbling[K, A]) Forget(drop func(key K, b Bounds, acc A) bool) {
	forget := func(slots map[time.Time]*slot[K, A], deleteEmpty bool) {
		for end, s := range slots {
			keep := s.order[:0]
			for _, k := range s.order {
				acc := s.accs[k]
				if !drop(k, s.bounds, acc) {
					keep = append(keep, k)
					continue
				}
				delete(s.accs, k)
				if t.onDrop != nil {
					t.onDrop(k, s.bounds, acc)
				}
			}
			s.order = keep
			if deleteEmpty && len(s.accs) == 0 {
				delete(slots, end)
			}
		}
	}
	forget(t.open, true)
	forget(t.closed, false) // a closed window stays closed
}

// Windows splits results as Advance returns them (oldest window first, each
// window's results together) into one slice per window, in order.
func Windows[K comparable, A any](results []Result[K, A]) iter.Seq[[]Result[K, A]] {
	return func(yield func([]Result[K, A]) bool) {
		for len(results) > 0 {
			n := 1
			for n < len(results) && results[n].Bounds == results[0].Bounds {
				n++
			}
			if !yield(results[:n]) {
				return
			}
			results = results[n:]
		}
	}
}

// Lookup returns the accumulator of key in the window holding ts, open or
// retained, without creating one.
func (t *Tumbling[K, A]) Lookup(key K, ts time.Time) (A, bool) {
	end := t.align.Of(ts).End
	for _, slots := range []map[time.Time]*slot[K, A]{t.open, t.closed} {
		if s, ok := slots[end]; ok {
			if acc, ok := s.accs[key]; ok {
				return acc, true
			}
		}
	}
	var zero A
	return zero, false
}
