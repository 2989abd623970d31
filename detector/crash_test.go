package detector

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/detector/synth"
	"github.com/ropcwatch/ropcwatch/stream"
)

// Environment of the helper process of TestServiceCrashRecovery.
const (
	envCrashHelper  = "ROPCWATCH_CRASH_HELPER"
	envCrashBrokers = "ROPCWATCH_CRASH_BROKERS"
	envCrashTopics  = "ROPCWATCH_CRASH_TOPICS" // signins,alerts,incidents,dead,group
)

func crashLive() LiveConfig {
	return LiveConfig{Lateness: time.Minute, UpdateInterval: 5 * time.Minute}
}

// TestServiceCrashHelper is the detector process that the crash test kills
// with SIGKILL; it only runs when that test starts it.
func TestServiceCrashHelper(t *testing.T) {
	if os.Getenv(envCrashHelper) != "1" {
		t.Skip("helper process of TestServiceCrashRecovery")
	}
	names := strings.Split(os.Getenv(envCrashTopics), ",")
	st := serviceTopics{signins: names[0], alerts: names[1], incidents: names[2], dead: names[3], group: names[4]}
	st.target.Config = stream.KafkaConfig{Brokers: strings.Split(os.Getenv(envCrashBrokers), ",")}
	cfg := st.config(crashLive())
	// Static membership: the restarted process takes the partitions back at
	// once instead of after the killed member's session timeout.
	cfg.Consumer.InstanceID = "crash-test"
	if err := RunService(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
}

// TestServiceCrashRecovery kills the detector with SIGKILL mid-stream and
// restarts it: the alerts topic then holds exactly the (AlertId, Revision)
// set of an uninterrupted run, nothing missing, and every duplicate equal
// to the original but for ProcessedAt.
func TestServiceCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts detector processes")
	}
	st := newServiceTopics(t, 1)
	lines, truth := generated(t, synth.Config{Records: 20000, Seed: 31, ROPCRate: 0.02})
	lines = append(lines, noiseAt(time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC)))

	// The stream arrives over about three seconds, so that the kill lands
	// mid-stream.
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		const chunks = 30
		for i := range chunks {
			produce(t, st, 0, lines[i*len(lines)/chunks:(i+1)*len(lines)/chunks]...)
			time.Sleep(100 * time.Millisecond)
		}
	}()

	helper := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestServiceCrashHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), envCrashHelper+"=1",
			envCrashBrokers+"="+strings.Join(st.target.Brokers, ","),
			envCrashTopics+"="+strings.Join([]string{st.signins, st.alerts, st.incidents, st.dead, st.group}, ","))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	crashed := newReader(t, st, st.alerts)
	first := helper()
	crashed.until(60*time.Second, "the first alerts", func(recs []stream.Record) bool { return len(recs) >= 20 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	killedAfter := len(crashed.records)
	second := helper()
	t.Cleanup(func() { second.Process.Signal(syscall.SIGKILL); second.Wait() })
	<-produced
	finals := func(recs []stream.Record) bool {
		ids := map[string]bool{}
		for _, a := range alertsOf(t, recs) {
			if a.Status == "final" {
				ids[a.AlertId] = true
			}
		}
		return len(ids) >= len(truth.Rows)
	}
	crashed.until(120*time.Second, "every final alert after the restart", finals)

	// The reference: an uninterrupted run over the same records.
	ref := st
	ref.alerts, ref.incidents, ref.dead, ref.group = st.alerts+"-ref", st.incidents+"-ref", st.dead+"-ref", st.group+"-ref"
	for _, topic := range []string{ref.alerts, ref.incidents, ref.dead} {
		if err := stream.EnsureTopics(context.Background(), st.target.Config, map[string]int32{topic: 1}); err != nil {
			t.Fatal(err)
		}
	}
	start(t, ref.config(crashLive()))
	uninterrupted := newReader(t, ref, ref.alerts)
	uninterrupted.until(120*time.Second, "every final alert of the uninterrupted run", finals)

	want := revisions(t, uninterrupted.records)
	got := revisions(t, crashed.records)
	duplicates := 0
	for _, r := range crashed.records {
		k, c := revision(t, r)
		if want[k] == "" {
			t.Fatalf("revision %s was not emitted by the uninterrupted run", k)
		}
		if c != want[k] {
			t.Fatalf("revision %s differs from the uninterrupted run:\n got %s\nwant %s", k, c, want[k])
		}
	}
	for k := range want {
		if got[k] == "" {
			t.Fatalf("revision %s is missing after the crash", k)
		}
	}
	duplicates = len(crashed.records) - len(got)
	t.Logf("killed after %d alerts; uninterrupted run %d revisions; crashed run %d records, %d distinct, %d duplicates, 0 missing",
		killedAfter, len(want), len(crashed.records), len(got), duplicates)
}

// revisions maps "AlertId/Revision" to the alert without ProcessedAt.
func revisions(t *testing.T, recs []stream.Record) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, r := range recs {
		k, c := revision(t, r)
		m[k] = c
	}
	return m
}

func revision(t *testing.T, r stream.Record) (key, content string) {
	t.Helper()
	var a map[string]any
	if err := json.Unmarshal(r.Value, &a); err != nil {
		t.Fatal(err)
	}
	delete(a, "ProcessedAt")
	b, _ := json.Marshal(a)
	return fmt.Sprintf("%v/%v", a["AlertId"], a["Revision"]), string(b)
}
