package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// chaosAction is what one step of a chaos run does.
type chaosAction int

const (
	scaleUp   chaosAction = iota // start instances 1 and 2
	scaleDown                    // SIGTERM instances 1 and 2
	killStep                     // SIGKILL one instance, then start it again
)

// chaosStep is one step of a chaos run, at an offset from its start.
type chaosStep struct {
	At     time.Duration
	Action chaosAction
	// Victim (kill only) is the instance killed, one of those running.
	Victim int
	// RestartAfter (kill only) is how long the victim stays dead.
	RestartAfter time.Duration
}

func (s chaosStep) String() string {
	switch s.Action {
	case scaleUp:
		return fmt.Sprintf("+%s scale 1 -> 3", s.At)
	case scaleDown:
		return fmt.Sprintf("+%s scale 3 -> 1 (SIGTERM)", s.At)
	}
	return fmt.Sprintf("+%s SIGKILL chaos-%d, restart after %s", s.At, s.Victim, s.RestartAfter)
}

// Shape of a chaos plan.
const (
	scaleUpAt     = 0.30 // of the run: one instance becomes three
	scaleDownAt   = 0.65 // of the run: three become one again
	planLead      = 5 * time.Second
	planTail      = 5 * time.Second
	scaleGuard    = 5 * time.Second // no kill this close to a scale step
	maxRestartGap = 1500 * time.Millisecond
)

// planChaos returns the steps of a chaos run of length d: one instance,
// three from 30% of d, one again (by SIGTERM) from 65%, and kills SIGKILLs
// at random points, each followed by a restart. The kills are spread over
// d: each falls in the first 60% of a slot of its own, where the slots
// divide the run minus its first and last 5s and minus 5s either side of
// each scale step. The same seed gives the same plan.
func planChaos(seed uint64, d time.Duration, kills int) []chaosStep {
	r := rand.New(rand.NewPCG(seed, 0x6368616f73)) // "chaos"
	up, down := scale(d, scaleUpAt), scale(d, scaleDownAt)
	allowed := [][2]time.Duration{{planLead, up - scaleGuard}, {up + scaleGuard, down - scaleGuard}, {down + scaleGuard, d - planTail}}
	var total time.Duration
	for _, a := range allowed {
		total += a[1] - a[0]
	}
	// at maps an offset into the allowed time to the run's time.
	at := func(x time.Duration) time.Duration {
		for _, a := range allowed {
			if x < a[1]-a[0] {
				return a[0] + x
			}
			x -= a[1] - a[0]
		}
		return allowed[len(allowed)-1][1]
	}
	steps := []chaosStep{{At: up, Action: scaleUp}, {At: down, Action: scaleDown}}
	slot := total / time.Duration(kills)
	for i := range kills {
		s := chaosStep{
			At:           at(time.Duration(i)*slot + time.Duration(r.Float64()*0.6*float64(slot))).Round(time.Millisecond),
			Action:       killStep,
			RestartAfter: time.Duration(r.Float64() * float64(maxRestartGap)).Round(time.Millisecond),
		}
		if s.At > up && s.At < down {
			s.Victim = r.IntN(3)
		}
		steps = append(steps, s)
	}
	slices.SortFunc(steps, func(a, b chaosStep) int { return int(a.At - b.At) })
	return steps
}

func scale(d time.Duration, share float64) time.Duration {
	return time.Duration(float64(d) * share).Round(time.Millisecond)
}

func TestPlanChaos(t *testing.T) {
	for _, tt := range []struct {
		name  string
		seed  uint64
		d     time.Duration
		kills int
	}{
		{"the chaos test's plan", 1, 150 * time.Second, 12},
		{"another seed", 987654321, 150 * time.Second, 12},
		{"a short run with many kills", 7, 60 * time.Second, 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			plan := planChaos(tt.seed, tt.d, tt.kills)
			if !slices.Equal(plan, planChaos(tt.seed, tt.d, tt.kills)) {
				t.Fatal("the same seed gave two plans")
			}
			up, down := scale(tt.d, scaleUpAt), scale(tt.d, scaleDownAt)
			kills := 0
			var last time.Duration
			for _, s := range plan {
				if s.Action != killStep {
					continue
				}
				kills++
				if s.At < planLead || s.At > tt.d-planTail {
					t.Errorf("%v: outside the run", s)
				}
				if (s.At-up).Abs() < scaleGuard || (s.At-down).Abs() < scaleGuard {
					t.Errorf("%v: within %s of a scale step", s, scaleGuard)
				}
				if running := s.At > up && s.At < down; (!running && s.Victim != 0) || s.Victim > 2 {
					t.Errorf("%v: that instance is not running then", s)
				}
				if s.RestartAfter < 0 || s.RestartAfter > maxRestartGap {
					t.Errorf("%v: restart gap out of range", s)
				}
				if kills > 1 && s.At-last < time.Second {
					t.Errorf("%v: less than a second after the previous kill", s)
				}
				last = s.At
			}
			if kills != tt.kills {
				t.Fatalf("%d kills, want %d", kills, tt.kills)
			}
		})
	}
}
