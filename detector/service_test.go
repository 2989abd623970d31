package detector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/detector/synth"
	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/stream/kafkatest"
)

// topics of one service under test.
type serviceTopics struct {
	target                           kafkatest.KafkaTarget
	signins, alerts, incidents, dead string
	group                            string
}

func newServiceTopics(t testing.TB, partitions int32) serviceTopics {
	t.Helper()
	target := kafkatest.Cluster(t)
	return serviceTopics{
		target:    target,
		signins:   kafkatest.NewTopic(t, target, partitions),
		alerts:    kafkatest.NewTopic(t, target, 1),
		incidents: kafkatest.NewTopic(t, target, 1),
		dead:      kafkatest.NewTopic(t, target, 1),
		// Unique per run: on a real broker, groups and the internal topics
		// named from them outlive a test.
		group: "ropcwatch-" + strings.NewReplacer("/", "-", "=", "-").Replace(t.Name()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36),
	}
}

func (st serviceTopics) config(live LiveConfig) ServiceConfig {
	if live.Rule == nil {
		live.Rule = SeedRule()
	}
	return ServiceConfig{
		Live:        live,
		Consumer:    stream.ConsumerConfig{Kafka: st.target.Config, Topics: []string{st.signins}, Group: st.group},
		Producer:    stream.ProducerConfig{Kafka: st.target.Config, Linger: time.Millisecond},
		AlertsTopic: st.alerts, IncidentsTopic: st.incidents, DeadLetterTopic: st.dead,
		CommitInterval: 200 * time.Millisecond, TickInterval: 50 * time.Millisecond,
	}
}

// start runs the service until the test ends.
func start(t *testing.T, cfg ServiceConfig) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := RunService(ctx, cfg); err != nil {
			t.Errorf("service: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func produce(t *testing.T, st serviceTopics, partition int32, values ...string) {
	t.Helper()
	p, err := stream.NewProducer(stream.ProducerConfig{Kafka: st.target.Config, ManualPartitions: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	recs := make([]stream.Record, len(values))
	for i, v := range values {
		recs[i] = stream.Record{Topic: st.signins, Partition: partition, Value: []byte(v)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.ProduceSync(ctx, recs...); err != nil {
		t.Fatal(err)
	}
}

// reader reads a topic from the start as a downstream consumer would.
type reader struct {
	t       *testing.T
	c       *stream.Consumer
	records []stream.Record
}

func newReader(t *testing.T, st serviceTopics, topic string) *reader {
	t.Helper()
	c, err := stream.NewConsumer(stream.ConsumerConfig{Kafka: st.target.Config, Topics: []string{topic}, Group: "reader-" + topic, ReadCommitted: true}, stream.PartitionHooks{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return &reader{t: t, c: c}
}

// until reads until done holds for what was read, or fails after timeout.
func (r *reader) until(timeout time.Duration, what string, done func([]stream.Record) bool) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for !done(r.records) {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out after %v waiting for %s (%d records read)", timeout, what, len(r.records))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		b, err := r.c.Poll(ctx)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			r.t.Fatal(err)
		}
		r.records = append(r.records, b.Records...)
		r.c.AllowRebalance()
	}
}

type alertLine struct {
	AlertId   string
	Revision  int
	Status    string
	WindowEnd time.Time
	Result    synth.TruthRow
}

func alertsOf(t *testing.T, recs []stream.Record) []alertLine {
	t.Helper()
	out := make([]alertLine, len(recs))
	for i, r := range recs {
		if err := json.Unmarshal(r.Value, &out[i]); err != nil {
			t.Fatalf("alert %d: %v", i, err)
		}
		out[i].Result.WindowEnd = out[i].WindowEnd
	}
	return out
}

func count(alerts []alertLine, status string) int {
	n := 0
	for _, a := range alerts {
		if a.Status == status {
			n++
		}
	}
	return n
}

// TestServiceFinalAlertsMatchBatch replays a generated attack into a
// three-partition topic and checks that the final alerts hold exactly the
// rows the batch detector (and the generator's truth) give.
func TestServiceFinalAlertsMatchBatch(t *testing.T) {
	st := newServiceTopics(t, 3)
	lines, truth := generated(t, synth.Config{Records: 10000, Seed: 21})
	for i := 0; i < len(lines); i += 500 {
		produce(t, st, int32(i/500%3), lines[i:min(i+500, len(lines))]...)
	}
	// One record far later on each partition moves the watermark past
	// every window.
	for p := range int32(3) {
		produce(t, st, p, noiseAt(time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC)))
	}
	start(t, st.config(LiveConfig{Lateness: time.Minute}))
	r := newReader(t, st, st.alerts)
	defer func() {
		if t.Failed() {
			for _, a := range alertsOf(t, r.records) {
				t.Logf("%s %d %s %s %d", a.Status, a.Revision, a.WindowEnd.Format(time.RFC3339), a.Result.UserPrincipalName, a.Result.Count)
			}
			dr := newReader(t, st, st.dead)
			dr.until(5*time.Second, "dead letters", func(recs []stream.Record) bool { return true })
			for _, d := range dr.records {
				t.Logf("dead letter %v", d.Headers)
			}
		}
	}()
	r.until(60*time.Second, "every final alert", func(recs []stream.Record) bool {
		return count(alertsOf(t, recs), "final") >= len(truth.Rows)
	})
	var finals []synth.TruthRow
	for _, a := range alertsOf(t, r.records) {
		if a.Status == "final" {
			finals = append(finals, a.Result)
		}
	}
	if d := synth.Compare(truth.Rows, finals); !d.Empty() {
		var rep strings.Builder
		d.WriteReport(&rep, 5)
		t.Fatalf("final alerts differ from the batch truth:\n%s", rep.String())
	}
	if n := count(alertsOf(t, r.records), "early"); n != len(truth.Rows) {
		t.Fatalf("%d early alerts for %d windows", n, len(truth.Rows))
	}
}

func noiseAt(ts time.Time) string {
	return fmt.Sprintf(`{"records":[{"time":%q,"category":"NonInteractiveUserSignInLogs","resultType":"0","properties":{"authenticationProtocol":"none"}}]}`, ts.Format(time.RFC3339Nano))
}

func ropcAt(ts time.Time, upn, id, ip string) string {
	return fmt.Sprintf(`{"records":[{"time":%q,"category":"NonInteractiveUserSignInLogs","resultType":"0","properties":{"id":%q,"authenticationProtocol":"ropc","userPrincipalName":%q,"appDisplayName":"python-requests","ipAddress":%q}}]}`,
		ts.Format(time.RFC3339Nano), id, upn, ip)
}

func TestServiceEarlyAlertWithinASecond(t *testing.T) {
	st := newServiceTopics(t, 1)
	start(t, st.config(LiveConfig{}))
	r := newReader(t, st, st.alerts)
	produce(t, st, 0, ropcAt(time.Now().UTC(), "warmup@contoso.com", "w1", "203.0.113.1"))
	r.until(30*time.Second, "the warm-up alert", func(recs []stream.Record) bool { return len(recs) >= 1 })

	sent := time.Now()
	produce(t, st, 0, ropcAt(time.Now().UTC(), "mallory@contoso.com", "m1", "203.0.113.66"))
	r.until(5*time.Second, "the early alert", func(recs []stream.Record) bool { return len(recs) >= 2 })
	if took := time.Since(sent); took > time.Second {
		t.Fatalf("early alert readable %v after the sign-in was produced, want under 1s", took)
	}
	a := alertsOf(t, r.records)[1]
	if a.Status != "early" || a.Revision != 1 || a.Result.UserPrincipalName != "mallory@contoso.com" {
		t.Fatalf("alert = %+v", a)
	}
}

func TestServiceClosesWindowsUnderSilence(t *testing.T) {
	st := newServiceTopics(t, 2) // partition 1 never receives anything
	lateness, idle := time.Second, time.Second
	start(t, st.config(LiveConfig{Lateness: lateness, IdleTimeout: idle}))
	r := newReader(t, st, st.alerts)
	end := time.Now().UTC().Truncate(time.Hour)
	produce(t, st, 0, ropcAt(end.Add(-2*time.Second), "quiet@contoso.com", "q1", "203.0.113.2"))
	sent := time.Now()
	r.until(30*time.Second, "the final alert", func(recs []stream.Record) bool { return count(alertsOf(t, recs), "final") == 1 })
	// The window ended before the sign-in arrived, so under silence it
	// closes once lateness plus idle timeout of wall time have passed.
	if took := time.Since(sent); took < lateness+idle || took > lateness+idle+5*time.Second {
		t.Fatalf("final alert after %v of silence, want about %v", took, lateness+idle+2*time.Second)
	}
}

func TestServiceAmendsLateEvents(t *testing.T) {
	st := newServiceTopics(t, 1)
	start(t, st.config(LiveConfig{Lateness: time.Minute}))
	r := newReader(t, st, st.alerts)
	w := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	produce(t, st, 0,
		ropcAt(w.Add(10*time.Minute), "late@contoso.com", "l1", "203.0.113.3"),
		noiseAt(w.Add(75*time.Minute)), // watermark 10:14: the 10:00 window closes
		ropcAt(w.Add(20*time.Minute), "late@contoso.com", "l2", "198.51.100.3"),
	)
	r.until(30*time.Second, "the amended alert", func(recs []stream.Record) bool { return len(recs) >= 3 })
	got := alertsOf(t, r.records)
	if got[0].Status != "early" || got[1].Status != "final" || got[2].Status != "amended" || got[2].Revision != 3 || got[2].Result.Count != 2 {
		t.Fatalf("alerts = %+v", got)
	}
}

func TestServiceDeadLettersMalformedRecords(t *testing.T) {
	st := newServiceTopics(t, 1)
	start(t, st.config(LiveConfig{}))
	r := newReader(t, st, st.dead)
	bad := []string{"{not json", `{"records":[{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T09:00:00Z","resultType":false,"properties":{"authenticationProtocol":"ropc"}}]}`}
	produce(t, st, 0, bad...)
	r.until(30*time.Second, "two dead letters", func(recs []stream.Record) bool { return len(recs) >= 2 })
	for i, want := range []string{"invalid-json", "wrong-type:ResultType"} {
		rec := r.records[i]
		h := map[string]string{}
		for _, x := range rec.Headers {
			h[x.Key] = string(x.Value)
		}
		if h["dlq-reason"] != want || h["dlq-topic"] != st.signins || h["dlq-partition"] != "0" || h["dlq-offset"] != fmt.Sprint(i) || h["dlq-detail"] == "" {
			t.Fatalf("dead letter %d headers = %v", i, h)
		}
		if string(rec.Value) != bad[i] {
			t.Fatalf("dead letter %d value = %q, want the original bytes", i, rec.Value)
		}
	}
}
