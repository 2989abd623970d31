package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/stream/kafkatest"
)

// The broker-restart run's input: 300,000 generated records replayed over
// about 45s; the broker goes down 15s in and stays down for 5s before it
// starts again.
const (
	restartRecords = 300_000
	restartSeed    = 2
	restartReplay  = 45 * time.Second
	restartAt      = 15 * time.Second
	restartDown    = 5 * time.Second
)

// kafkaScript is deploy/kafka/kafka.sh, from this package's directory.
var kafkaScript = filepath.Join("..", "..", "deploy", "kafka", "kafka.sh")

// TestBrokerRestart stops the broker under a detector in the middle of a
// run and starts it again on the same data directory (kafka.sh stop, then
// start): the detector must reconnect and finish with the alerts of an
// undisturbed run. It stops the broker named by ROPCWATCH_TEST_KAFKA_DIR,
// so nothing else may use that broker meanwhile.
func TestBrokerRestart(t *testing.T) {
	b := newChaosBroker(t)
	dir := os.Getenv(envKafkaDir)
	if dir == "" {
		if os.Getenv(kafkatest.EnvRequired) == "1" {
			t.Fatalf("%s is empty: eval \"$(deploy/kafka/kafka.sh env DIR)\" sets it", envKafkaDir)
		}
		t.Skipf("%s is empty: this test restarts the broker that kafka.sh runs in that directory", envKafkaDir)
	}
	began := time.Now()
	bin := buildBinary(t)
	in := generate(t, restartRecords, restartSeed)
	input := newInputTopic(t, b)
	run, ref := newDetectorRun(t, b, "restarted"), newDetectorRun(t, b, "reference")
	ps := newProcesses(t, bin)

	detector := ps.start("detector", run.args(b, input, "restarted-0", nil)...)
	messages := int64(in.truth.Stats.Messages)
	replay := ps.startOneShot("replay", in.replayArgs(b, input, float64(messages)/restartReplay.Seconds())...)
	ps.sleep(restartAt)

	// Whatever happens below, the broker must run again for what follows.
	t.Cleanup(func() {
		if out, err := kafkaSh(context.Background(), "start", dir); err != nil {
			t.Logf("kafka.sh start: %v\n%s", err, out)
		}
	})
	t.Logf("+%s: stopping the broker (input at %s)", since(replay.started), inputProgress(t, b, input, messages))
	down := time.Now()
	if out, err := kafkaSh(t.Context(), "stop", dir); err != nil {
		t.Fatalf("kafka.sh stop: %v\n%s", err, out)
	}
	stopped := since(down)
	time.Sleep(restartDown)
	up := time.Now()
	if out, err := kafkaSh(t.Context(), "start", dir); err != nil {
		t.Fatalf("kafka.sh start: %v\n%s", err, out)
	}
	outage := since(down)
	t.Logf("+%s: the broker is back: stop took %s, start %s, outage %s", since(replay.started), stopped, since(up), outage)
	survived := true
	if exited, err := detector.exitedByItself(); exited {
		// Fail, but go on as an orchestrator would, restarting it: whether
		// its alerts are still right after that is worth knowing too.
		survived = false
		t.Errorf("the detector did not survive the broker restart: it exited %s after the broker began to stop (%s); end of its log:\n%s",
			detector.ended.Sub(down).Round(10*time.Millisecond), exitText(err), tailFile(detector.log, 8))
		detector = ps.start("detector", run.args(b, input, "restarted-0", nil)...)
	}

	if err := replay.wait(5 * time.Minute); err != nil {
		t.Fatal(err)
	}
	endOfInput(t, b, input, inputPartitions, in.endOfInputTime())
	waitDone(t, b, ps, run, input, 5*time.Second, 5*time.Minute)
	stopAll(t, detector)

	// The reference reads the same, complete input with no broker restart.
	reference := ps.start("reference", ref.args(b, input, "reference-0", nil)...)
	waitDone(t, b, ps, ref, input, 5*time.Second, 5*time.Minute)
	stopAll(t, reference)

	refAlerts := readAlerts(t, b, ref.alerts, alertPartitions)
	runAlerts := readAlerts(t, b, run.alerts, alertPartitions)
	c := compareAlerts(refAlerts, runAlerts)
	logComparison(t, "restarted-broker run against the reference", c, 5)
	refTruth, runTruth := truthDiff(t, in.truth, refAlerts), truthDiff(t, in.truth, runAlerts)
	logTruth(t, "reference", refTruth)
	logTruth(t, "restarted-broker run", runTruth)

	line := fmt.Sprintf("ropcwatch-broker-restart records=%d outage=%s survived=%t reference=%d alerts=%d distinct=%d missing=%d extra=%d duplicates=%d duplicates_differing=%d truth_missing=%d truth_extra=%d truth_wrong=%d elapsed=%s",
		in.records, seconds(outage), survived, c.Reference, c.Run, c.Distinct, len(c.Missing), len(c.Extra), c.Duplicates, c.DuplicatesDiffering,
		len(runTruth.Missing), len(runTruth.Extra), len(runTruth.Wrong), since(began).Round(time.Second))
	t.Log(line)
	fmt.Println(line)

	if len(c.Missing) > 0 || len(c.Extra) > 0 {
		t.Errorf("after the broker restart the final and amended rows differ from the reference: %d missing, %d extra", len(c.Missing), len(c.Extra))
	}
	if c.DuplicatesDiffering > 0 {
		t.Errorf("%d revisions were emitted twice with different content (beyond ProcessedAt)", c.DuplicatesDiffering)
	}
	if !refTruth.Empty() || !runTruth.Empty() {
		t.Errorf("a run differs from the generator's truth")
	}
}

// kafkaSh runs deploy/kafka/kafka.sh with args and returns its output.
func kafkaSh(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return exec.CommandContext(ctx, kafkaScript, args...).CombinedOutput()
}
