// Package kafkatest gives integration tests a Kafka broker: an in-process
// kfake cluster by default, or a real broker named by the environment, so
// the same tests run on a laptop and against Apache Kafka in CI. Import it
// only from _test files.
//
// Environment:
//
//	ROPCWATCH_TEST_KAFKA            comma-separated brokers of a PLAINTEXT listener
//	ROPCWATCH_TEST_KAFKA_REQUIRED=1 fail (never skip, never fall back to kfake)
//	                                when a real broker is missing or unreachable
//	ROPCWATCH_TEST_KAFKA_SCRAM      brokers of a SASL_PLAINTEXT listener, with
//	ROPCWATCH_TEST_KAFKA_SCRAM_USER, ROPCWATCH_TEST_KAFKA_SCRAM_PASSWORD and
//	ROPCWATCH_TEST_KAFKA_SCRAM_MECHANISM (default SCRAM-SHA-512)
//	ROPCWATCH_TEST_KAFKA_TLS        brokers of an SSL listener, with
//	ROPCWATCH_TEST_KAFKA_TLS_CA     the CA file that signed them, and optionally
//	ROPCWATCH_TEST_KAFKA_TLS_CERT / ROPCWATCH_TEST_KAFKA_TLS_KEY for mutual TLS
package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ropcwatch/ropcwatch/stream"
)

// Environment variables read by this package.
const (
	EnvBrokers         = "ROPCWATCH_TEST_KAFKA"
	EnvRequired        = "ROPCWATCH_TEST_KAFKA_REQUIRED"
	EnvSCRAMBrokers    = "ROPCWATCH_TEST_KAFKA_SCRAM"
	EnvSCRAMUser       = "ROPCWATCH_TEST_KAFKA_SCRAM_USER"
	EnvSCRAMPassword   = "ROPCWATCH_TEST_KAFKA_SCRAM_PASSWORD"
	EnvSCRAMMechanism  = "ROPCWATCH_TEST_KAFKA_SCRAM_MECHANISM"
	EnvTLSBrokers      = "ROPCWATCH_TEST_KAFKA_TLS"
	EnvTLSCA           = "ROPCWATCH_TEST_KAFKA_TLS_CA"
	EnvTLSCert         = "ROPCWATCH_TEST_KAFKA_TLS_CERT"
	EnvTLSKey          = "ROPCWATCH_TEST_KAFKA_TLS_KEY"
	reachTimeout       = 20 * time.Second
	defaultSCRAMMethod = stream.SASLScramSHA512
)

// KafkaTarget is a broker for a test: its bootstrap addresses, whether it is
// a real broker (not kfake), and a KafkaConfig that reaches it.
type KafkaTarget struct {
	Brokers []string
	Real    bool
	Config  stream.KafkaConfig
}

// Cluster returns the broker named by ROPCWATCH_TEST_KAFKA after checking it
// answers, or else a fresh in-process kfake cluster closed at the end of the
// test. With ROPCWATCH_TEST_KAFKA_REQUIRED=1 a missing real broker fails the
// test instead.
func Cluster(t testing.TB) KafkaTarget {
	t.Helper()
	if list := os.Getenv(EnvBrokers); list != "" {
		brokers := splitBrokers(list)
		target := KafkaTarget{Brokers: brokers, Real: true, Config: stream.KafkaConfig{Brokers: brokers}}
		mustReach(t, target, EnvBrokers)
		return target
	}
	if required() {
		t.Fatalf("%s=1 but %s is empty: the real-broker tests must not fall back to kfake", EnvRequired, EnvBrokers)
	}
	return Fake(t)
}

// Fake starts an in-process kfake cluster (three brokers on loopback, plus
// opts such as kfake.EnableSASL or kfake.TLS) and closes it when the test
// ends. Its Config has only the brokers: tests of SASL or TLS add theirs.
func Fake(t testing.TB, opts ...kfake.Opt) KafkaTarget {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(3)}, opts...)...)
	if err != nil {
		t.Fatalf("start kfake cluster: %v", err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	return KafkaTarget{Brokers: brokers, Config: stream.KafkaConfig{Brokers: brokers}}
}

// SCRAMTarget returns the real SASL_PLAINTEXT listener named by
// ROPCWATCH_TEST_KAFKA_SCRAM with its SCRAM user. It skips the test when the
// variable is unset, unless ROPCWATCH_TEST_KAFKA_REQUIRED=1, which fails it.
func SCRAMTarget(t testing.TB) KafkaTarget {
	t.Helper()
	list := os.Getenv(EnvSCRAMBrokers)
	if list == "" {
		skipOrFail(t, EnvSCRAMBrokers)
	}
	mech := os.Getenv(EnvSCRAMMechanism)
	if mech == "" {
		mech = defaultSCRAMMethod
	}
	brokers := splitBrokers(list)
	target := KafkaTarget{Brokers: brokers, Real: true, Config: stream.KafkaConfig{
		Brokers: brokers,
		SASL: stream.SASLConfig{
			Mechanism: mech,
			User:      os.Getenv(EnvSCRAMUser),
			Password:  stream.SecretFromEnv(os.Getenv, EnvSCRAMPassword),
		},
	}}
	mustReach(t, target, EnvSCRAMBrokers)
	return target
}

// TLSTarget returns the real SSL listener named by ROPCWATCH_TEST_KAFKA_TLS,
// trusting the CA in ROPCWATCH_TEST_KAFKA_TLS_CA. It skips the test when the
// variable is unset, unless ROPCWATCH_TEST_KAFKA_REQUIRED=1, which fails it.
func TLSTarget(t testing.TB) KafkaTarget {
	t.Helper()
	list := os.Getenv(EnvTLSBrokers)
	if list == "" {
		skipOrFail(t, EnvTLSBrokers)
	}
	brokers := splitBrokers(list)
	target := KafkaTarget{Brokers: brokers, Real: true, Config: stream.KafkaConfig{
		Brokers: brokers,
		TLS: stream.TLSConfig{
			Enabled:  true,
			CAFile:   os.Getenv(EnvTLSCA),
			CertFile: os.Getenv(EnvTLSCert),
			KeyFile:  os.Getenv(EnvTLSKey),
		},
	}}
	mustReach(t, target, EnvTLSBrokers)
	return target
}

var unsafeTopicChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// NewTopic creates a topic named by TopicName and returns its name.
func NewTopic(t testing.TB, target KafkaTarget, partitions int32) string {
	t.Helper()
	name := TopicName(t, target)
	ctx, cancel := context.WithTimeout(context.Background(), reachTimeout)
	defer cancel()
	if err := stream.EnsureTopics(ctx, target.Config, map[string]int32{name: partitions}); err != nil {
		t.Fatalf("create test topic: %v", err)
	}
	return name
}

// TopicName returns a topic name made of the test's name and a random
// suffix, so tests sharing a real broker never collide. On a real broker the
// topic, if the test creates it, is deleted when the test ends.
func TopicName(t testing.TB, target KafkaTarget) string {
	t.Helper()
	base := strings.Trim(unsafeTopicChars.ReplaceAllString(t.Name(), "-"), "-")
	if len(base) > 150 {
		base = base[:150]
	}
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	name := "ropcwatch-test-" + base + "-" + hex.EncodeToString(suffix[:])
	if target.Real {
		t.Cleanup(func() { deleteTopic(t, target, name) })
	}
	return name
}

func deleteTopic(t testing.TB, target KafkaTarget, name string) {
	opts, err := target.Config.ClientOptions()
	if err != nil {
		t.Logf("delete test topic %s: %v", name, err)
		return
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Logf("delete test topic %s: %v", name, err)
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), reachTimeout)
	defer cancel()
	if _, err := kadm.NewClient(cl).DeleteTopics(ctx, name); err != nil {
		t.Logf("delete test topic %s: %v", name, err)
	}
}

// mustReach fails the test unless target answers a metadata request: a
// broker someone named explicitly must not be silently replaced.
func mustReach(t testing.TB, target KafkaTarget, env string) {
	t.Helper()
	opts, err := target.Config.ClientOptions()
	if err != nil {
		t.Fatalf("%s: %v", env, err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("%s: create client: %v", env, err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), reachTimeout)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("%s=%s is unreachable: %v", env, strings.Join(target.Brokers, ","), err)
	}
}

func skipOrFail(t testing.TB, env string) {
	t.Helper()
	if required() {
		t.Fatalf("%s=1 but %s is empty", EnvRequired, env)
	}
	t.Skipf("%s is not set; CI runs this against a real broker", env)
}

func required() bool { return os.Getenv(EnvRequired) == "1" }

func splitBrokers(list string) []string {
	var out []string
	for b := range strings.SplitSeq(list, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}
