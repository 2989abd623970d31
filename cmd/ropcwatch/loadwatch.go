package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ropcwatch/ropcwatch/cmd/ropcwatch/internal/loadreport"
	"github.com/ropcwatch/ropcwatch/detector"
	"github.com/ropcwatch/ropcwatch/detector/synth"
	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/window"
)

// windowKey names one user's window: what one alert is about.
type windowKey struct {
	upn string
	end int64 // Unix nanoseconds of the window end
}

// qualified is one qualifying sign-in of a produced message.
type qualified struct {
	key windowKey
	id  string
}

// sentMessage is a produced message that holds qualifying sign-ins, and
// when the brokers acknowledged it.
type sentMessage struct {
	at      time.Time
	signIns []qualified
}

// qualifier finds the qualifying sign-ins of a message with the detector's
// own scanner (decoder and rule), and their windows. One goroutine, the
// replayer's, uses it.
type qualifier struct {
	sc    detector.Scanner
	found detector.Findings
	align window.Aligner
}

func (q *qualifier) of(msg []byte) []qualified {
	q.found.Reset()
	q.sc.Scan(msg, 0, &q.found)
	if len(q.found.Events) == 0 {
		return nil
	}
	out := make([]qualified, len(q.found.Events))
	for i, ev := range q.found.Events {
		out[i] = qualified{key: windowKey{ev.UserPrincipalName, q.align.Of(ev.TimeGenerated).End.UnixNano()}, id: ev.Id}
	}
	return out
}

// windowTimes is what the watcher learns of one window.
type windowTimes struct {
	first, last time.Time           // acknowledgement of the first and last qualifying sign-in
	ids         map[string]struct{} // qualifying sign-in ids, to skip redeliveries
	early       time.Time           // receipt of revision 1
	closes      []time.Time         // receipts of final and amended revisions
}

// closedAfterLast reports whether a final or amended revision came at or
// after the last qualifying sign-in, and when.
func (w *windowTimes) closedAfterLast() (time.Time, bool) {
	for _, t := range w.closes {
		if !t.Before(w.last) {
			return t, true
		}
	}
	return time.Time{}, false
}

// alertWatcher reads the alerts topic as a downstream consumer would and
// times every window's revisions against the produce of its sign-ins. Its
// run goroutine owns all its state; the replayer and the load test talk to
// it over channels.
type alertWatcher struct {
	consumer *stream.Consumer
	from     map[int32]int64 // alerts-topic offsets at the start: earlier alerts are not this run's

	sent   chan sentMessage
	expect chan []synth.TruthRow
	closed chan struct{} // closed once every expected window has closed after its last sign-in
	ready  chan struct{} // closed when the consumer is assigned the alerts topic

	// The state below is run's; result reads it after run has returned.

	windows  map[windowKey]*windowTimes
	latest   latestAlerts
	expected []windowKey
}

// newAlertWatcher joins a consumer group of its own on the alerts topic;
// from holds the topic's end offsets before the run.
func newAlertWatcher(kcfg stream.KafkaConfig, topic string, from stream.TopicOffsets) (*alertWatcher, error) {
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	w := &alertWatcher{
		from: make(map[int32]int64), sent: make(chan sentMessage, 4096), expect: make(chan []synth.TruthRow, 1),
		closed: make(chan struct{}), ready: make(chan struct{}),
		windows: make(map[windowKey]*windowTimes),
	}
	for p, o := range from {
		w.from[p] = o.End
	}
	var once sync.Once
	c, err := stream.NewConsumer(stream.ConsumerConfig{Kafka: kcfg, Topics: []string{topic}, Group: "ropcwatch-loadtest-" + hex.EncodeToString(suffix[:])},
		stream.PartitionHooks{Assigned: func(context.Context, string, []int32) { once.Do(func() { close(w.ready) }) }})
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	w.consumer = c
	return w, nil
}

// run reads alerts until ctx is done, then leaves the group.
func (w *alertWatcher) run(ctx context.Context) error {
	defer w.consumer.Close(context.WithoutCancel(ctx))
	for {
		poll, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		b, err := w.consumer.Poll(poll)
		cancel()
		received := time.Now()
		if ctx.Err() != nil {
			w.drainSent()
			return nil
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("read alerts: %w", err)
		}
		for _, r := range b.Records {
			if r.Offset < w.from[r.Partition] {
				continue
			}
			var a alertLine
			if err := json.Unmarshal(r.Value, &a); err != nil {
				return fmt.Errorf("alert at partition %d offset %d is not a Sentinel-shape alert: %w", r.Partition, r.Offset, err)
			}
			w.received(a, received)
		}
		w.consumer.AllowRebalance()
		select {
		case rows := <-w.expect:
			w.expected = make([]windowKey, 0, len(rows)) // not nil: expecting, maybe nothing
			for _, r := range rows {
				w.expected = append(w.expected, windowKey{r.UserPrincipalName, r.WindowEnd.UnixNano()})
			}
		default:
		}
		// After expect: everything sent before the expectation is queued.
		w.drainSent()
		w.checkClosed()
	}
}

func (w *alertWatcher) window(k windowKey) *windowTimes {
	t := w.windows[k]
	if t == nil {
		t = &windowTimes{ids: make(map[string]struct{})}
		w.windows[k] = t
	}
	return t
}

func (w *alertWatcher) received(a alertLine, at time.Time) {
	w.latest.add(a)
	t := w.window(windowKey{a.Result.UserPrincipalName, a.WindowEnd.UnixNano()})
	if a.Revision == 1 {
		t.early = at
	}
	if s := detector.Status(a.Status); s == detector.StatusFinal || s == detector.StatusAmended {
		t.closes = append(t.closes, at)
	}
}

func (w *alertWatcher) drainSent() {
	for {
		select {
		case m := <-w.sent:
			for _, q := range m.signIns {
				t := w.window(q.key)
				if _, dup := t.ids[q.id]; dup {
					continue
				}
				t.ids[q.id] = struct{}{}
				if t.first.IsZero() || m.at.Before(t.first) {
					t.first = m.at
				}
				if m.at.After(t.last) {
					t.last = m.at
				}
			}
		default:
			return
		}
	}
}

func (w *alertWatcher) checkClosed() {
	if w.expected == nil {
		return
	}
	select {
	case <-w.closed:
		return
	default:
	}
	for _, k := range w.expected {
		t := w.windows[k]
		if t == nil {
			return
		}
		if _, ok := t.closedAfterLast(); !ok {
			return
		}
	}
	close(w.closed)
}

// result returns the windows that qualifying sign-ins were produced for,
// timed from t0, and the rows of the latest revision of every alert. Call
// it after run has returned.
func (w *alertWatcher) result(t0 time.Time) ([]loadreport.Window, []synth.TruthRow) {
	var out []loadreport.Window
	since := func(t time.Time) time.Duration {
		if t.IsZero() {
			return loadreport.Never
		}
		return t.Sub(t0)
	}
	for k, t := range w.windows {
		if len(t.ids) == 0 {
			continue // an alert for sign-ins this run did not produce
		}
		win := loadreport.Window{
			UserPrincipalName: k.upn, WindowEnd: time.Unix(0, k.end).UTC(),
			FirstProduced: t.first.Sub(t0), LastProduced: t.last.Sub(t0),
			Early: since(t.early), Final: loadreport.Never,
		}
		if at, ok := t.closedAfterLast(); ok {
			win.Final = at.Sub(t0)
		}
		out = append(out, win)
	}
	return out, w.latest.rows()
}
