package stream

import (
	"context"
	"time"
)

// Pacer spaces out sends: as fast as possible, at a fixed rate, or
// faithful to the event times of the data at a speed-up. It reads the
// clock through time.Now and sleeps with timers, so tests run it inside
// testing/synctest. One goroutine uses a Pacer.
type Pacer struct {
	// Rate is messages per second; zero means no fixed rate.
	Rate float64
	// Speed replays event time this many times faster than it happened
	// (60 turns an hour into a minute); zero means no event-time pacing.
	// It applies to messages that have an event time.
	Speed float64

	start      time.Time
	sent       int64
	firstEvent time.Time
}

// Wait blocks until the next message may go. eventTime is the message's
// event time, or the zero time when unknown.
func (p *Pacer) Wait(ctx context.Context, eventTime time.Time) error {
	if p.start.IsZero() {
		p.start = time.Now()
	}
	var due time.Time
	switch {
	case p.Speed > 0 && !eventTime.IsZero():
		if p.firstEvent.IsZero() {
			p.firstEvent = eventTime
		}
		due = p.start.Add(time.Duration(float64(eventTime.Sub(p.firstEvent)) / p.Speed))
	case p.Rate > 0:
		due = p.start.Add(time.Duration(float64(p.sent) / p.Rate * float64(time.Second)))
	}
	p.sent++
	d := time.Until(due)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
