package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/stream/kafkatest"
)

// TestRunReloadsTheAllowlist changes the allowlist file under a running
// detector: a bad file is refused and the old list kept; a good one applies
// between two polls, with windows intact and alerts naming the new version.
func TestRunReloadsTheAllowlist(t *testing.T) {
	target := kafkatest.Cluster(t)
	signins, alerts := kafkatest.NewTopic(t, target, 1), kafkatest.NewTopic(t, target, 1)
	allow := filepath.Join(t.TempDir(), "allow.csv")
	write := func(s string) {
		t.Helper()
		tmp := allow + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, allow); err != nil { // as a ConfigMap update swaps files
			t.Fatal(err)
		}
	}
	write("SearchKey\n192.0.2.1\n")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() {
		done <- runCmdContext(ctx, t, "", "run", "--brokers", strings.Join(target.Brokers, ","), "--topic", signins,
			"--alerts-topic", alerts, "--allowlist", allow, "--reload-interval", "50ms", "--metrics-addr", "", "--log-format", "text")
	}()
	p, err := stream.NewProducer(stream.ProducerConfig{Kafka: target.Config})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := stream.NewConsumer(stream.ConsumerConfig{Kafka: target.Config, Topics: []string{alerts}, Group: "reload-reader"}, stream.PartitionHooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	type alert struct {
		ConfigVersion string
		Result        struct{ UserPrincipalName string }
	}
	seen := map[string]alert{}
	// send writes sign-ins of users (UPN, IP pairs) in one produce request:
	// one record batch, evaluated within one poll under one configuration.
	send := func(pairs ...string) {
		t.Helper()
		var recs []stream.Record
		for i := 0; i < len(pairs); i += 2 {
			u, ip := pairs[i], pairs[i+1]
			recs = append(recs, stream.Record{Topic: signins, Value: []byte(fmt.Sprintf(
				`{"time":%q,"category":"NonInteractiveUserSignInLogs","resultType":"0","properties":{"id":%q,"authenticationProtocol":"ropc","userPrincipalName":%q,"ipAddress":%q}}`,
				time.Now().UTC().Format(time.RFC3339Nano), u, u, ip))})
		}
		if err := p.ProduceSync(ctx, recs...); err != nil {
			t.Fatal(err)
		}
	}
	await := func(user string) alert {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
			if a, ok := seen[user]; ok {
				return a
			}
			pctx, pcancel := context.WithTimeout(ctx, time.Second)
			b, _ := c.Poll(pctx)
			pcancel()
			for _, r := range b.Records {
				var a alert
				if err := json.Unmarshal(r.Value, &a); err != nil {
					t.Fatal(err)
				}
				seen[a.Result.UserPrincipalName] = a
			}
			c.AllowRebalance()
		}
		t.Fatalf("no alert for %s", user)
		return alert{}
	}
	send("first@contoso.com", "203.0.113.50")
	v1 := await("first@contoso.com").ConfigVersion
	if v1 == "" {
		t.Fatal("alerts name no configuration version")
	}

	write("IPOrRange;oops\n") // neither column: refused, the old list stays
	write("SearchKey\n192.0.2.1\n203.0.113.0/24\n")
	for i := 0; ; i++ {
		if i == 100 {
			t.Fatal("the new allowlist never applied")
		}
		probe, marker := fmt.Sprintf("probe-%d@contoso.com", i), fmt.Sprintf("marker-%d@contoso.com", i)
		send(probe, "203.0.113.51", marker, "198.51.100.1")
		m := await(marker)
		if m.ConfigVersion == v1 {
			continue // not applied yet: the probe alerted under the old list
		}
		if _, alerted := seen[probe]; alerted {
			t.Fatalf("%s alerted under version %s although its IP is now allowlisted", probe, m.ConfigVersion)
		}
		break
	}
	cancel()
	r := <-done
	if r.code != exitOK || !strings.Contains(r.stderr, "configuration applied") {
		t.Fatalf("exit %d; log:\n%s", r.code, r.stderr)
	}
}
