package detector

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// Flags of TestSimulation. CI runs many seeds within a time budget; a
// failing seed prints the command that replays it alone.
var (
	simSeed   = flag.Uint64("sim.seed", 0, "TestSimulation: replay this seed only")
	simSeeds  = flag.Int("sim.seeds", 300, "TestSimulation: seeds to run (from -sim.first)")
	simFirst  = flag.Uint64("sim.first", 1, "TestSimulation: the first seed")
	simBudget = flag.Duration("sim.budget", 0, "TestSimulation: run seeds until this much time has passed (overrides -sim.seeds)")
	simTrace  = flag.Bool("sim.trace", false, "TestSimulation: print the scheduler's trace of a failing seed")
)

// TestSimulation runs the streaming service, routers, shards, engine,
// committer, incidents and the poll loop, against a simulated broker, with
// a seeded scheduler that interleaves polls, acknowledgements and their
// failures, commits, rebalances, partition moves, crashes at any step,
// zombies, partitions going down, transaction aborts and clock jumps. After
// each run it checks the invariants of SPEC section 6 against the batch
// detector on the same input (sim_check_test.go).
func TestSimulation(t *testing.T) {
	seeds, first := *simSeeds, *simFirst
	if *simSeed != 0 {
		seeds, first = 1, *simSeed
	} else if testing.Short() {
		seeds = min(seeds, 40)
	}
	began := time.Now()
	ran, failed := 0, 0
	for seed := first; ; seed++ {
		if *simBudget > 0 {
			if time.Since(began) >= *simBudget {
				break
			}
		} else if ran >= seeds {
			break
		}
		ran++
		r := newSimRun(seed)
		r.run()
		if bad := r.check(); len(bad) > 0 {
			failed++
			msg := fmt.Sprintf("seed %d (%+v) breaks %d invariants:\n- %s\nreplay: go test ./detector -run '^TestSimulation$' -sim.seed=%d -sim.trace -v",
				seed, r.opts, len(bad), strings.Join(bad, "\n- "), seed)
			if *simTrace {
				msg += "\ntrace:\n" + r.traceText()
			}
			t.Error(msg)
			if failed >= 3 {
				break
			}
		}
	}
	took := time.Since(began)
	t.Logf("simulated %d seeds from %d in %s (budget %s)", ran, first, took.Round(time.Millisecond), *simBudget)
	fmt.Printf("ropcwatch-simulation seeds=%d first=%d failed=%d took=%s budget=%s\n", ran, first, failed, took.Round(time.Millisecond), *simBudget)
}

// TestSimulationSurvey is a development aid: it runs seeds and counts the
// kinds of invariant failure.
func TestSimulationSurvey(t *testing.T) {
	if *simSurvey == 0 {
		t.Skip("-sim.survey N")
	}
	kinds := map[string]int{}
	seeds := map[string][]uint64{}
	for seed := uint64(1); seed <= uint64(*simSurvey); seed++ {
		r := newSimRun(seed)
		r.run()
		for _, b := range r.check() {
			k := b
			if i := strings.Index(k, ": "); i > 0 && strings.HasPrefix(k, "at ") {
				k = k[i+2:]
			}
			if i := strings.IndexAny(k, ":0123456789"); i > 0 {
				k = k[:i]
			}
			kinds[k]++
			if l := seeds[k]; len(l) < 4 && !slices.Contains(l, seed) {
				seeds[k] = append(l, seed)
			}
		}
	}
	for k, n := range kinds {
		t.Logf("%4d  %s  (seeds %v)", n, k, seeds[k])
	}
}

var simSurvey = flag.Int("sim.survey", 0, "TestSimulationSurvey: seeds to survey")
