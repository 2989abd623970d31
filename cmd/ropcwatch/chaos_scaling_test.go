package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The scaling run's input: two million generated records (about 10 GB of
// JSON), written once and read by a fresh group for each instance count.
const (
	scalingRecords = 2_000_000
	scalingSeed    = 3
)

// TestScaling measures the throughput of 1, 2 and 3 instances on the same
// broker and input: from the start of the processes until their group has
// committed every record (lag 0). Processes, broker and this test share the
// machine's cores, which is what the figures say, not more.
func TestScaling(t *testing.T) {
	b := newChaosBroker(t)
	began := time.Now()
	bin := buildBinary(t)
	in := generate(t, scalingRecords, scalingSeed)
	input := newInputTopic(t, b)
	ps := newProcesses(t, bin)

	replay := ps.startOneShot("replay", in.replayArgs(b, input, 0)...)
	if err := replay.wait(10 * time.Minute); err != nil {
		t.Fatal(err)
	}
	fill := replay.ended.Sub(replay.started)
	mb := float64(in.jsonBytes()) / 1e6
	t.Logf("filled %d partitions with %d records (%.0f MB of JSON) in %s: %.0f records/s, %.0f MB/s",
		inputPartitions, in.records, mb, fill.Round(10*time.Millisecond), float64(in.records)/fill.Seconds(), mb/fill.Seconds())
	endOfInput(t, b, input, inputPartitions, in.endOfInputTime())

	type result struct {
		instances int
		took      time.Duration
	}
	var results []result
	for n := 1; n <= 3; n++ {
		run := newDetectorRun(t, b, fmt.Sprintf("scaling-%d", n))
		var procs []*process
		for i := range n {
			procs = append(procs, ps.start(fmt.Sprintf("scaling-%d-%d", n, i), run.args(b, input, fmt.Sprintf("scaling-%d", i), nil)...))
		}
		done := waitLagZero(t, b, ps, run, input, 10*time.Minute)
		took := done.Sub(procs[0].started)
		stopAll(t, procs...)
		results = append(results, result{n, took})
		t.Logf("%d instance(s): lag 0 after %s", n, took.Round(10*time.Millisecond))
	}

	var table strings.Builder
	fmt.Fprintf(&table, "%-9s  %9s  %8s  %9s  %9s  %6s\n", "instances", "records", "MB", "seconds", "records/s", "MB/s")
	for _, r := range results {
		secs := r.took.Seconds()
		fmt.Fprintf(&table, "%-9d  %9d  %8.0f  %9.2f  %9.0f  %6.0f\n", r.instances, in.records, mb, secs, float64(in.records)/secs, mb/secs)
		fmt.Printf("ropcwatch-scaling instances=%d records=%d mb=%.0f seconds=%.2f records_per_s=%.0f mb_per_s=%.0f\n",
			r.instances, in.records, mb, secs, float64(in.records)/secs, mb/secs)
	}
	t.Logf("throughput from process start to lag 0, %d partitions, one broker on the same machine:\n%s", inputPartitions, table.String())
	fmt.Print(table.String())
	t.Logf("TestScaling took %s", since(began))
}
