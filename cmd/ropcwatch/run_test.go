package main

import (
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/stream/kafkatest"
)

func TestRunUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no alerts topic", []string{"run", "--brokers", "127.0.0.1:1", "--topic", "s"}, "--alerts-topic is required"},
		{"no topic", []string{"run", "--brokers", "127.0.0.1:1", "--alerts-topic", "a"}, "--topic is required"},
		{"a bad start", []string{"run", "--brokers", "127.0.0.1:1", "--topic", "s", "--alerts-topic", "a", "--start", "middle"}, "--start"},
		{"a password on the command line", []string{"run", "--brokers", "127.0.0.1:1", "--topic", "s", "--alerts-topic", "a", "--sasl-mechanism", "PLAIN", "--sasl-user", "u", "--sasl-password", "hunter2"}, "env:NAME or file:PATH"},
		{"an empty password variable", []string{"run", "--brokers", "127.0.0.1:1", "--topic", "s", "--alerts-topic", "a", "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "u"}, "KAFKA_SASL_PASSWORD is empty"},
		{"a connection string on the command line", []string{"run", "--topic", "s", "--alerts-topic", "a", "--eventhubs-connection-string", "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKey=hunter2"}, "env:NAME or file:PATH"},
		{"a bad log format", []string{"run", "--log-format", "xml"}, "--log-format"},
		{"a bad memory budget", []string{"run", "--brokers", "127.0.0.1:1", "--topic", "s", "--alerts-topic", "a", "--memory-budget", "lots"}, "--memory-budget"},
		{"no future skew", []string{"run", "--brokers", "127.0.0.1:1", "--topic", "s", "--alerts-topic", "a", "--max-future-skew", "0s"}, "--max-future-skew"},
		{"keyed input scaled out", []string{"run", "--brokers", "127.0.0.1:1", "--topic", "s", "--alerts-topic", "a", "--input-keyed"}, "--input-keyed needs --repartition=false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, "", tt.args...)
			if r.code != exitFailure || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit 1 naming %q", r.code, r.stderr, tt.want)
			}
			if strings.Contains(r.stderr, "hunter2") {
				t.Fatalf("a secret was printed: %q", r.stderr)
			}
		})
	}
}

func TestKafkaFlagsReadSecretsFromEnvAndFiles(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conn := "Endpoint=sb://contoso-signins.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=c2VjcmV0"
	env := map[string]string{"EVENTHUBS_CONNECTION_STRING": conn}
	getenv := func(k string) string { return env[k] }

	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := kafkaFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := o.config(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.EventHubsConnectionString.Reveal() != conn {
		t.Fatal("the Event Hubs connection string was not taken from EVENTHUBS_CONNECTION_STRING")
	}
	opts, err := cfg.ClientOptions()
	if err != nil || len(opts) == 0 {
		t.Fatalf("client options: %v", err)
	}

	fs = flag.NewFlagSet("t", flag.ContinueOnError)
	o = kafkaFlags(fs)
	if err := fs.Parse([]string{"--brokers", "k:9092", "--sasl-mechanism", "scram-sha-256", "--sasl-user", "u", "--sasl-password", "file:" + pw}); err != nil {
		t.Fatal(err)
	}
	cfg, err = o.config(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SASL.Mechanism != stream.SASLScramSHA256 || cfg.SASL.Password.Reveal() != "from-file" {
		t.Fatalf("sasl = %+v", cfg.SASL)
	}
}

// TestRunServesAlerts runs the command as an operator would, against kfake
// (or the real broker in CI), until an alert comes out.
func TestRunServesAlerts(t *testing.T) {
	target := kafkatest.Cluster(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ops := ln.Addr().String()
	ln.Close()
	signins, alerts := kafkatest.NewTopic(t, target, 2), kafkatest.NewTopic(t, target, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() {
		var out, errb strings.Builder
		code := run(ctx, []string{"run", "--brokers", strings.Join(target.Brokers, ","), "--topic", signins,
			"--alerts-topic", alerts, "--group", "cmd-test", "--log-format", "text", "--metrics-addr", ops},
			func(string) string { return "" }, strings.NewReader(""), &out, &errb)
		done <- result{code, out.String(), errb.String()}
	}()
	p, err := stream.NewProducer(stream.ProducerConfig{Kafka: target.Config})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	rec := `{"time":"` + time.Now().UTC().Format(time.RFC3339Nano) + `","category":"NonInteractiveUserSignInLogs","resultType":"0","properties":{"id":"x1","authenticationProtocol":"ropc","userPrincipalName":"eve@contoso.com","ipAddress":"203.0.113.5"}}`
	if err := p.ProduceSync(ctx, stream.Record{Topic: signins, Value: []byte(rec)}, stream.Record{Topic: signins, Value: []byte("{not json")}); err != nil {
		t.Fatal(err)
	}
	c, err := stream.NewConsumer(stream.ConsumerConfig{Kafka: target.Config, Topics: []string{alerts}, Group: "cmd-test-reader"}, stream.PartitionHooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
	defer pcancel()
	b, err := c.Poll(pctx)
	if err != nil || len(b.Records) == 0 || string(b.Records[0].Key) != "eve@contoso.com" {
		t.Fatalf("no alert: %v %+v", err, b.Records)
	}
	// The metrics of this known run, scraped as Prometheus would.
	want := []string{
		`ropcwatch_messages_total 2`, `ropcwatch_rejected_total{reason="invalid-json"} 1`,
		`ropcwatch_evaluated_total{verdict="match"} 1`, `ropcwatch_alerts_total{status="early"} 1`,
		`ropcwatch_open_windows 1`, `ropcwatch_ready 1`, `ropcwatch_record_to_alert_seconds_count 1`,
	}
	kafkaMetric := "ropcwatch_kafka_"
	var page string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		page = get(t, "http://"+ops+"/metrics")
		missing := ""
		for _, w := range want {
			if !strings.Contains(page, w+"\n") {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack %q:\n%s", missing, page)
		}
	}
	if !strings.Contains(page, kafkaMetric) {
		t.Fatalf("no franz-go client metrics (%s*) on /metrics", kafkaMetric)
	}
	if strings.Contains(page, "eve@contoso.com") || strings.Contains(page, "203.0.113.5") {
		t.Fatal("a user or an IP appears in the metrics")
	}
	if got := get(t, "http://"+ops+"/readyz"); got != "ready\n" {
		t.Fatalf("/readyz = %q", got)
	}
	if got := get(t, "http://"+ops+"/healthz"); got != "ok\n" {
		t.Fatalf("/healthz = %q", got)
	}
	cancel() // SIGTERM: flush, commit, leave, exit 0
	r := <-done
	if r.code != exitOK || !strings.Contains(r.stderr, "detector stopped") {
		t.Fatalf("exit %d after shutdown; log:\n%s", r.code, r.stderr)
	}
}

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for seconds")
	}
	r := runCmd(t, "", "demo", "--records", "6000", "--duration", "8s")
	if r.code != exitOK {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"demo broker (in-process kfake, not for production)", "produced ", "early   rev 1"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRunWithIncidentsAndMetrics starts run with an incidents topic, whose
// restore opens extra Kafka clients, and the metrics hooks.
func TestRunWithIncidentsAndMetrics(t *testing.T) {
	target := kafkatest.Cluster(t)
	signins, alerts, incidents := kafkatest.NewTopic(t, target, 1), kafkatest.NewTopic(t, target, 1), kafkatest.NewTopic(t, target, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r := runCmdContext(ctx, t, "", "run", "--brokers", strings.Join(target.Brokers, ","), "--topic", signins,
		"--alerts-topic", alerts, "--incidents-topic", incidents, "--metrics-addr", "127.0.0.1:0", "--log-format", "text")
	if r.code != exitOK || !strings.Contains(r.stderr, "incidents restored") {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
}
