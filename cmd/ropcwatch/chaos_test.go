package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/detector/synth"
)

// The chaos tests run ropcwatch as processes against a real broker and
// disturb them: SIGKILL, scaling, a broker restart. Each disturbed run is
// compared with an undisturbed reference run on the same input (SPEC
// section 6: after recovery the alert stream, deduplicated by (AlertId,
// Revision), equals the uninterrupted run) and with the generator's truth.
// They need ROPCWATCH_TEST_CHAOS=1 and ROPCWATCH_TEST_KAFKA; see
// newChaosBroker. Each prints one summary line on stdout, starting
// "ropcwatch-chaos", "ropcwatch-broker-restart" or "ropcwatch-scaling".

// The chaos run's input: a million generated records (5.1 GB of JSON in
// 149,723 messages; 1,609 result rows for 861 distinct UPNs over four
// windows), replayed at a pace that spreads them over chaosReplay.
const (
	chaosRecords = 1_000_000
	chaosSeed    = 1
	chaosReplay  = 150 * time.Second
	chaosKills   = 12
	chaosPlan    = 20261127 // default seed of the kill plan
)

// generated is a generated input and what the rule must find in it.
type generated struct {
	records int
	seed    uint64
	truth   *synth.Truth
}

// generate computes the truth of `ropcwatch replay --generate records
// --seed seed`, which replays synth's stream of that Config.
func generate(t *testing.T, records int, seed uint64) generated {
	t.Helper()
	began := time.Now()
	truth, err := synth.Generate(t.Context(), synth.Config{Records: records, Seed: seed}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]bool{}
	for _, r := range truth.Rows {
		users[r.UserPrincipalName] = true
	}
	s := truth.Stats
	t.Logf("input: %d records in %d messages (%.2f GB), %d qualifying, %d result rows for %d users; truth computed in %s",
		s.Records, s.Messages, float64(s.Bytes)/1e9, s.Qualifying, len(truth.Rows), len(users), since(began))
	return generated{records: records, seed: seed, truth: truth}
}

// replayArgs are the arguments of `ropcwatch replay` for this input; rate
// zero means as fast as possible.
func (g generated) replayArgs(b chaosBroker, topic string, rate float64) []string {
	return []string{"replay", "--brokers", b.brokers, "--topic", topic, "--generate", strconv.Itoa(g.records),
		"--seed", strconv.FormatUint(g.seed, 10), "--rate", strconv.FormatFloat(rate, 'f', 1, 64), "--progress", "10s"}
}

// endOfInputTime is the event time of the end-of-input records.
func (g generated) endOfInputTime() time.Time {
	var last time.Time
	for _, r := range g.truth.Rows {
		if r.WindowEnd.After(last) {
			last = r.WindowEnd
		}
	}
	return last.Add(endOfInputAfter)
}

// jsonBytes is the size of the input's JSON messages, without newlines.
func (g generated) jsonBytes() int64 {
	return g.truth.Stats.Bytes - int64(g.truth.Stats.Messages)
}

// TestChaos replays a million generated sign-ins while an undisturbed
// reference instance and a chaos group read them. The chaos group scales
// 1 -> 3 -> 1 (SIGTERM to scale down) and takes 12 SIGKILLs at seeded random
// points, each followed by a restart. Once with --exactly-once, where a
// read_committed reader may see no duplicate at all, and once without, where
// every duplicate must equal its original but for ProcessedAt.
func TestChaos(t *testing.T) {
	b := newChaosBroker(t)
	began := time.Now()
	bin := buildBinary(t)
	in := generate(t, chaosRecords, chaosSeed)
	seed := uint64(chaosPlan)
	if s := os.Getenv(envChaosSeed); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", envChaosSeed, err)
		}
		seed = v
	}
	for _, mode := range []struct {
		name  string
		flags []string
	}{
		{"exactly-once", []string{"--exactly-once"}},
		{"at-least-once", nil},
	} {
		t.Run(mode.name, func(t *testing.T) {
			if len(mode.flags) > 0 {
				requireFlag(t, bin, "run", "exactly-once")
			}
			runChaos(t, b, bin, in, mode.name, mode.flags, seed)
		})
	}
	t.Logf("TestChaos took %s", since(began))
}

// runChaos replays the input while a reference instance and the chaos
// instances consume it, disturbs the chaos instances by the plan, and
// compares the two alert streams once both are done.
func runChaos(t *testing.T, b chaosBroker, bin string, in generated, mode string, flags []string, seed uint64) {
	began := time.Now()
	input := newInputTopic(t, b)
	ref, run := newDetectorRun(t, b, "reference"), newDetectorRun(t, b, "chaos")
	ps := newProcesses(t, bin)
	watch := watchProducers(t, b, run.alerts)
	plan := planChaos(seed, chaosReplay, chaosKills)
	t.Logf("kill plan of seed %d (%s=%d replays it):", seed, envChaosSeed, seed)
	for _, s := range plan {
		t.Logf("  %v", s)
	}

	reference := ps.start("reference", ref.args(b, input, "reference-0", flags)...)
	g := &chaosGroup{t: t, b: b, ps: ps, run: run, input: input, flags: flags, messages: int64(in.truth.Stats.Messages)}
	g.start(0)
	rate := float64(g.messages) / chaosReplay.Seconds()
	replay := ps.startOneShot("replay", in.replayArgs(b, input, rate)...)
	t.Logf("replaying %d messages at %.0f messages/s into %d partitions", g.messages, rate, inputPartitions)
	g.follow(plan, replay.started)
	if err := replay.wait(5 * time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("replay done in %s", since(replay.started))
	endOfInput(t, b, input, inputPartitions, in.endOfInputTime())
	g.scaledDown()
	waitDone(t, b, ps, ref, input, 5*time.Second, 5*time.Minute)
	waitDone(t, b, ps, run, input, 5*time.Second, 5*time.Minute)
	t.Logf("both runs done %s after the replay began", since(replay.started))
	stopAll(t, reference, g.instances[0])
	g.ended(g.instances[0])
	watch.stop()
	delays := firstRecordDelays(g.lives, watch.firsts())
	var recovery []time.Duration
	for _, i := range g.restarts {
		recovery = append(recovery, delays[i])
	}

	readBegan := time.Now()
	refAlerts := readAlerts(t, b, ref.alerts, alertPartitions)
	runAlerts := readAlerts(t, b, run.alerts, alertPartitions)
	t.Logf("read %d + %d alert records with kafka-go in %s", len(refAlerts), len(runAlerts), since(readBegan))
	judgeChaos(t, in, mode, g.kills, refAlerts, runAlerts, recovery, began)
}

// chaosGroup is the disturbed deployment: up to three instances of one
// group, and the life of every process that was one of them.
type chaosGroup struct {
	t        *testing.T
	b        chaosBroker
	ps       *processes
	run      detectorRun
	input    string
	flags    []string
	messages int64 // of the whole input, for progress logs

	instances [3]*process
	lives     []lifetime // of every incarnation, in start order
	restarts  []int      // indexes into lives of the restarts after kills
	kills     int
	stopping  int        // instances stopped by the scale-down
	stopped   chan error // their exits
}

func (g *chaosGroup) start(i int) {
	name := fmt.Sprintf("chaos-%d", i)
	g.instances[i] = g.ps.start(name, g.run.args(g.b, g.input, name, g.flags)...)
	g.lives = append(g.lives, lifetime{started: g.instances[i].started})
}

// ended notes when the incarnation p ended.
func (g *chaosGroup) ended(p *process) {
	for i := range g.lives {
		if g.lives[i].started.Equal(p.started) {
			g.lives[i].ended = p.ended
		}
	}
}

// follow carries out the plan, its offsets counted from t0.
func (g *chaosGroup) follow(plan []chaosStep, t0 time.Time) {
	progress := func() string { return inputProgress(g.t, g.b, g.input, g.messages) }
	g.stopped = make(chan error, 2)
	for _, s := range plan {
		g.ps.sleep(time.Until(t0.Add(s.At)))
		switch s.Action {
		case scaleUp:
			g.start(1)
			g.start(2)
			g.t.Logf("+%s: scaled 1 -> 3 (input at %s)", since(t0), progress())
		case scaleDown:
			for _, p := range g.instances[1:] {
				g.stopping++
				go func() { g.stopped <- p.stop(45 * time.Second) }()
			}
			g.t.Logf("+%s: SIGTERM chaos-1 and chaos-2: scaled 3 -> 1 (input at %s)", since(t0), progress())
		case killStep:
			g.kills++
			victim := g.instances[s.Victim]
			victim.kill()
			g.ended(victim)
			g.t.Logf("+%s: kill %d/%d: SIGKILL %s after %s up (input at %s); restart in %s",
				since(t0), g.kills, chaosKills, victim.name, victim.ended.Sub(victim.started).Round(10*time.Millisecond), progress(), s.RestartAfter)
			g.ps.sleep(s.RestartAfter)
			g.start(s.Victim)
			g.restarts = append(g.restarts, len(g.lives)-1)
		}
	}
}

// scaledDown waits for the instances stopped by the scale-down: each must
// exit with status 0 after SIGTERM.
func (g *chaosGroup) scaledDown() {
	for range g.stopping {
		if err := <-g.stopped; err != nil {
			g.t.Errorf("scale-down: %v", err)
		}
	}
	for _, p := range g.instances[1:] {
		g.ended(p)
	}
}

// judgeChaos compares the chaos run's alerts with the reference's and the
// truth, prints the summary line and fails the test on any difference.
func judgeChaos(t *testing.T, in generated, mode string, kills int, refAlerts, runAlerts []alertRecord, recovery []time.Duration, began time.Time) {
	t.Helper()
	c := compareAlerts(refAlerts, runAlerts)
	logComparison(t, "chaos run against the reference", c, 5)
	refTruth, runTruth := truthDiff(t, in.truth, refAlerts), truthDiff(t, in.truth, runAlerts)
	logTruth(t, "reference", refTruth)
	logTruth(t, "chaos run", runTruth)
	t.Logf("time from each restart to its first alert record: %v (-1: none before it ended)", recovery)
	median, largest, measured := recoverySummary(recovery)

	line := fmt.Sprintf("ropcwatch-chaos mode=%s records=%d kills=%d scale=1-3-1 reference=%d alerts=%d distinct=%d missing=%d extra=%d duplicates=%d duplicates_differing=%d truth_missing=%d truth_extra=%d truth_wrong=%d recovery_median=%s recovery_max=%s recovery_measured=%d/%d elapsed=%s",
		mode, in.records, kills, c.Reference, c.Run, c.Distinct, len(c.Missing), len(c.Extra), c.Duplicates, c.DuplicatesDiffering,
		len(runTruth.Missing), len(runTruth.Extra), len(runTruth.Wrong), seconds(median), seconds(largest), measured, len(recovery), since(began).Round(time.Second))
	t.Log(line)
	fmt.Println(line)

	if kills < 10 {
		t.Errorf("%d kills, want at least 10", kills)
	}
	if len(c.Missing) > 0 || len(c.Extra) > 0 {
		t.Errorf("the chaos run's final and amended rows differ from the reference: %d missing, %d extra", len(c.Missing), len(c.Extra))
	}
	if mode == "exactly-once" && c.Duplicates > 0 {
		t.Errorf("exactly-once: %d duplicate (AlertId, Revision) records read with read_committed, want 0", c.Duplicates)
	}
	if c.DuplicatesDiffering > 0 {
		t.Errorf("%d revisions were emitted twice with different content (beyond ProcessedAt)", c.DuplicatesDiffering)
	}
	if !refTruth.Empty() {
		t.Errorf("the reference run differs from the generator's truth")
	}
	if !runTruth.Empty() {
		t.Errorf("the chaos run differs from the generator's truth")
	}
	if measured < len(recovery) || largest > 5*time.Second {
		t.Logf("recovery goal (first alert within 5s of each restart) not met")
	}
}

// stopAll stops processes with SIGTERM, as an orchestrator scales down: each
// must exit with status 0 within the shutdown timeout (SPEC section 7).
func stopAll(t *testing.T, ps ...*process) {
	t.Helper()
	for _, p := range ps {
		if err := p.stop(45 * time.Second); err != nil {
			t.Errorf("SIGTERM: %v", err)
		}
	}
}

// inputProgress says how much of the input is in the topic so far.
func inputProgress(t *testing.T, b chaosBroker, topic string, messages int64) string {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	n, _, err := b.end(ctx, topic)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d/%d messages", n, messages)
}

// seconds formats a duration for the summary lines: seconds with two
// decimals, or "none" for a negative one.
func seconds(d time.Duration) string {
	if d < 0 {
		return "none"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
}
