package stream

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestPacerRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &Pacer{Rate: 100}
		start := time.Now()
		for range 1000 {
			if err := p.Wait(context.Background(), time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		// 1000 messages at 100/s: the last leaves 9.99 s after the first.
		if got := time.Since(start); got != 9990*time.Millisecond {
			t.Fatalf("1000 messages at 100/s took %v", got)
		}
	})
}

func TestPacerSpeedFollowsEventTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &Pacer{Speed: 60}
		base := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
		start := time.Now()
		for _, m := range []int{0, 0, 30, 60, 45, 120} { // minutes of event time, one out of order
			if err := p.Wait(context.Background(), base.Add(time.Duration(m)*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		// Two hours of event time at 60x: two minutes; the late message
		// (45 after 60) goes at once.
		if got := time.Since(start); got != 2*time.Minute {
			t.Fatalf("2h of events at 60x took %v", got)
		}
	})
}

func TestPacerUnlimitedAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &Pacer{}
		start := time.Now()
		for range 10000 {
			p.Wait(context.Background(), time.Time{})
		}
		if time.Since(start) != 0 {
			t.Fatal("an unpaced replay waited")
		}
		slow := &Pacer{Rate: 1}
		ctx, cancel := context.WithCancel(context.Background())
		slow.Wait(ctx, time.Time{})
		go func() { time.Sleep(100 * time.Millisecond); cancel() }()
		if err := slow.Wait(ctx, time.Time{}); err == nil {
			t.Fatal("a cancelled wait returned no error")
		}
	})
}
