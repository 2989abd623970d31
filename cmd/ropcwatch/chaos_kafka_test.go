package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/stream/kafkatest"
)

// Environment of the chaos tests, besides kafkatest's.
const (
	// envChaos=1 runs the chaos tests: minutes of detector processes
	// against the real broker of ROPCWATCH_TEST_KAFKA.
	envChaos = "ROPCWATCH_TEST_CHAOS"
	// envChaosSeed overrides the seed of the kill plan, to replay one.
	envChaosSeed = "ROPCWATCH_TEST_CHAOS_SEED"
	// envKafkaDir is the directory of the broker that deploy/kafka/kafka.sh
	// runs (kafka.sh env prints it), for the test that restarts it.
	envKafkaDir = "ROPCWATCH_TEST_KAFKA_DIR"
)

// Topic layout of the chaos tests.
const (
	inputPartitions = 12
	alertPartitions = 3
)

// Settings every detector of the chaos tests runs with, reference and
// disturbed runs alike. The last windows close by event time, on the
// end-of-input records (see endOfInput), not by the idle timeout, whose
// wall-clock close would come half an hour after the generated stream ends.
// The idle timeout stays well above a scheduling hiccup on a loaded machine:
// a partition idle for that long stops holding the watermark back, and its
// next records would amend windows already closed.
var detectorSettings = []string{
	"--lateness", "1m", "--idle-timeout", "10s", "--retention", "1h",
	"--metrics-addr=", "--log-format", "text",
}

// endOfInputAfter is how far past the last window end the end-of-input
// records are: past that window (1h), its retention (1h) and the lateness,
// so that every window closes, is forgotten, and stops holding commits back.
const endOfInputAfter = 3 * time.Hour

// chaosBroker is the real broker of the chaos tests, with an admin client.
type chaosBroker struct {
	target  kafkatest.KafkaTarget
	brokers string // for the --brokers flag
	adm     *kadm.Client
}

// newChaosBroker gates the chaos tests: they run with ROPCWATCH_TEST_CHAOS=1
// and a real broker in ROPCWATCH_TEST_KAFKA, and are skipped otherwise;
// with ROPCWATCH_TEST_KAFKA_REQUIRED=1 as well, a missing broker fails them.
func newChaosBroker(t *testing.T) chaosBroker {
	t.Helper()
	if os.Getenv(envChaos) != "1" {
		t.Skipf("%s is not 1: the chaos tests run detector processes against a real broker for minutes", envChaos)
	}
	if testing.Short() {
		t.Skip("the chaos tests run for minutes")
	}
	if os.Getenv(kafkatest.EnvBrokers) == "" {
		if os.Getenv(kafkatest.EnvRequired) == "1" {
			t.Fatalf("%s=1 and %s=1 but %s is empty: the chaos tests need a real broker", envChaos, kafkatest.EnvRequired, kafkatest.EnvBrokers)
		}
		t.Skipf("%s is empty: the chaos tests need a real broker (deploy/kafka/kafka.sh)", kafkatest.EnvBrokers)
	}
	target := kafkatest.Cluster(t)
	opts, err := target.Config.ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return chaosBroker{target: target, brokers: strings.Join(target.Brokers, ","), adm: kadm.NewClient(cl)}
}

// newInputTopic creates a sign-in topic of inputPartitions partitions.
func newInputTopic(t *testing.T, b chaosBroker) string {
	t.Helper()
	return kafkatest.NewTopic(t, b.target, inputPartitions)
}

// detectorRun is what one detector deployment owns: a consumer group and
// its output topics. Runs compared with each other share only the input.
type detectorRun struct {
	name                    string
	group                   string
	alerts, incidents, dead string
}

// newDetectorRun creates the output topics of a run. When the test ends it
// deletes its group and the topics named after the group (internal topics
// a detector creates for itself, such as GROUP-repartition).
func newDetectorRun(t *testing.T, b chaosBroker, name string) detectorRun {
	t.Helper()
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	r := detectorRun{
		name:      name,
		group:     "ropcwatch-test-" + name + "-" + hex.EncodeToString(suffix[:]),
		alerts:    kafkatest.NewTopic(t, b.target, alertPartitions),
		incidents: kafkatest.NewTopic(t, b.target, 1),
		dead:      kafkatest.NewTopic(t, b.target, 1),
	}
	t.Cleanup(func() { b.forget(t, r.group) })
	return r
}

// args are the arguments of `ropcwatch run` for one instance of r.
func (r detectorRun) args(b chaosBroker, input, instance string, extra []string) []string {
	args := []string{"run", "--brokers", b.brokers, "--topic", input, "--group", r.group, "--instance-id", instance,
		"--alerts-topic", r.alerts, "--incidents-topic", r.incidents, "--dead-letter-topic", r.dead}
	args = append(args, detectorSettings...)
	return append(args, extra...)
}

// forget deletes a group and the topics named after it. Static members
// stay in a group until their session times out, even after SIGTERM, so it
// first removes them by instance id, as an operator scaling down would.
func (b chaosBroker) forget(t *testing.T, group string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	described, err := b.adm.DescribeGroups(ctx, group)
	var static []string
	if err == nil {
		for _, m := range described[group].Members {
			if m.InstanceID != nil {
				static = append(static, *m.InstanceID)
			}
		}
	}
	if len(static) > 0 {
		if _, err := b.adm.LeaveGroup(ctx, kadm.LeaveGroup(group).InstanceIDs(static...)); err != nil {
			t.Logf("remove static members %v of group %s: %v", static, group, err)
		}
	}
	deleted, err := b.adm.DeleteGroups(ctx, group)
	if err == nil {
		err = deleted[group].Err
	}
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		t.Logf("delete group %s: %v", group, err)
	}
	topics, err := b.adm.ListTopics(ctx)
	if err != nil {
		t.Logf("list topics: %v", err)
		return
	}
	var internal []string
	for _, name := range topics.Names() {
		if strings.HasPrefix(name, group+"-") {
			internal = append(internal, name)
		}
	}
	if len(internal) > 0 {
		if _, err := b.adm.DeleteTopics(ctx, internal...); err != nil {
			t.Logf("delete topics %v: %v", internal, err)
		}
	}
}

// lag returns how many input records the group has yet to commit. The
// internal topics of a detector that repartitions are left out: routers
// write progress markers to them as long as they run, so their lag is
// never zero for long; the alerts falling quiet tells that they are done.
func (b chaosBroker) lag(ctx context.Context, group, input string) (int64, error) {
	committed, err := b.adm.FetchOffsets(ctx, group)
	if err != nil {
		return 0, fmt.Errorf("fetch offsets of group %s: %w", group, err)
	}
	ends, err := b.adm.ListEndOffsets(ctx, input)
	if err != nil {
		return 0, fmt.Errorf("list end offsets: %w", err)
	}
	var lag int64
	var perr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			perr = fmt.Errorf("end offset of %s partition %d: %w", o.Topic, o.Partition, o.Err)
			return
		}
		var at int64
		if c, ok := committed.Lookup(o.Topic, o.Partition); ok && c.Err == nil {
			at = c.At
		}
		lag += max(0, o.Offset-at)
	})
	return lag, perr
}

// end returns the sum of the high watermarks of topic's partitions, and
// whether each partition's last stable offset has reached its high
// watermark (no transaction left open).
func (b chaosBroker) end(ctx context.Context, topic string) (int64, bool, error) {
	ends, err := b.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, false, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	stable, err := b.adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = stable.Error()
	}
	if err != nil {
		return 0, false, fmt.Errorf("last stable offsets of %s: %w", topic, err)
	}
	var sum int64
	settled := true
	ends.Each(func(o kadm.ListedOffset) {
		sum += o.Offset
		if s, ok := stable.Lookup(o.Topic, o.Partition); !ok || s.Offset != o.Offset {
			settled = false
		}
	})
	return sum, settled, nil
}

// waitDone waits until the run has committed all of input and its alerts
// topic has neither grown nor held an open transaction for quiet, and
// returns how long that took. It fails the test when a process exits by
// itself or timeout passes first.
func waitDone(t *testing.T, b chaosBroker, ps *processes, r detectorRun, input string, quiet, timeout time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	var last int64 = -1
	var since0, lastLog time.Time
	for {
		if err := ps.check(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		lag, err := b.lag(ctx, r.group, input)
		end, settled, err2 := b.end(ctx, r.alerts)
		cancel()
		now := time.Now()
		switch {
		case err != nil || err2 != nil:
			t.Logf("%s: %v %v", r.name, err, err2)
			since0 = time.Time{}
		case lag > 0 || !settled || end != last:
			since0 = time.Time{}
		case since0.IsZero():
			since0 = now
		case now.Sub(since0) >= quiet:
			t.Logf("%s done: lag 0, %d alert records, quiet for %s; waited %s", r.name, end, quiet, since(began))
			return time.Since(began)
		}
		last = end
		if now.Sub(began) > timeout {
			t.Fatalf("%s not done after %s: lag %d, %d alert records, transactions settled %v", r.name, timeout, lag, end, settled)
		}
		if now.Sub(lastLog) >= 15*time.Second {
			t.Logf("%s: lag %d, %d alert records", r.name, lag, end)
			lastLog = now
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitLagZero waits until the group has committed everything, polling
// every 100ms, and returns when it first saw lag 0.
func waitLagZero(t *testing.T, b chaosBroker, ps *processes, r detectorRun, input string, timeout time.Duration) time.Time {
	t.Helper()
	began := time.Now()
	for {
		if err := ps.check(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		lag, err := b.lag(ctx, r.group, input)
		cancel()
		now := time.Now()
		if err == nil && lag == 0 {
			return now
		}
		if now.Sub(began) > timeout {
			t.Fatalf("%s: lag %d after %s (%v)", r.name, lag, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// endOfInput writes one record to every partition of topic, after
// everything else: a sign-in that the rule rejects (not ROPC), whose event
// time moves every partition's event time past the last window. A live
// detector then closes every window by event time, as it would when the
// next sign-ins arrive in production, instead of half an hour of wall
// clock later.
func endOfInput(t *testing.T, b chaosBroker, topic string, partitions int32, at time.Time) {
	t.Helper()
	p, err := stream.NewProducer(stream.ProducerConfig{Kafka: b.target.Config, ManualPartitions: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var recs []stream.Record
	for part := range partitions {
		value := fmt.Sprintf(`{"records":[{"time":%q,"category":"NonInteractiveUserSignInLogs","resultType":"0","properties":{"id":"end-of-input-%d","authenticationProtocol":"none","userPrincipalName":"end.of.input@contoso.com","appDisplayName":"Microsoft Teams","ipAddress":"192.0.2.200"}}]}`,
			at.UTC().Format(time.RFC3339Nano), part)
		recs = append(recs, stream.Record{Topic: topic, Partition: part, Value: []byte(value)})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := p.ProduceSync(ctx, recs...); err != nil {
		t.Fatalf("end-of-input records: %v", err)
	}
}
