package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL mechanisms accepted in SASLConfig.Mechanism.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
	SASLOAuthBearer = "OAUTHBEARER"
)

// KafkaConfig says how to reach and authenticate to a Kafka cluster or an
// Event Hubs namespace. It is shared by consumers, producers and admin calls.
type KafkaConfig struct {
	// Brokers are bootstrap "host:port" addresses. They may be empty when
	// EventHubsConnectionString is set (the namespace host is used).
	Brokers []string
	// ClientID is sent to the brokers for their logs and quotas; empty
	// means "ropcwatch".
	ClientID string
	TLS      TLSConfig
	SASL     SASLConfig
	// EventHubsConnectionString, when set, connects to the Event Hubs Kafka
	// endpoint: broker NAMESPACE:9093, TLS on, SASL PLAIN with user
	// "$ConnectionString" and the connection string as password. SASL must
	// then be left empty.
	EventHubsConnectionString Secret
	// Hooks observe the clients, e.g. franz-go's kprom plugin for client
	// metrics (connections, bytes, throttling, batch sizes per broker).
	Hooks []kgo.Hook
}

// SASLConfig configures SASL authentication. The zero value is no SASL.
type SASLConfig struct {
	// Mechanism is "", PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER
	// (case-insensitive).
	Mechanism string
	// User and Password are for PLAIN and SCRAM.
	User     string
	Password Secret
	// Token supplies OAUTHBEARER tokens (see AzureTokenSource).
	Token TokenSource
}

// Validate reports the first problem with c, naming the setting.
func (c KafkaConfig) Validate() error {
	if !c.EventHubsConnectionString.IsZero() {
		if _, err := ParseEventHubsConnectionString(c.EventHubsConnectionString.Reveal()); err != nil {
			return fmt.Errorf("kafka: EventHubsConnectionString%s: %w", origin(c.EventHubsConnectionString), err)
		}
		if c.SASL.Mechanism != "" {
			return errors.New("kafka: SASL.Mechanism must be empty when EventHubsConnectionString is set (it implies PLAIN)")
		}
	} else if len(c.Brokers) == 0 {
		return errors.New("kafka: Brokers is empty (set at least one host:port, or EventHubsConnectionString)")
	}
	for i, b := range c.Brokers {
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" || port == "" {
			return fmt.Errorf("kafka: Brokers[%d] %q is not host:port", i, b)
		}
	}
	if err := c.SASL.validate(); err != nil {
		return err
	}
	return c.TLS.validate()
}

func (s SASLConfig) validate() error {
	switch strings.ToUpper(s.Mechanism) {
	case "":
		if s.User != "" || !s.Password.IsZero() || s.Token != nil {
			return errors.New("kafka: SASL.User, SASL.Password or SASL.Token is set but SASL.Mechanism is empty")
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if s.User == "" {
			return fmt.Errorf("kafka: SASL.User is required for SASL.Mechanism %s", s.Mechanism)
		}
		if s.Password.IsZero() {
			return fmt.Errorf("kafka: SASL.Password%s is empty; it is required for SASL.Mechanism %s", origin(s.Password), s.Mechanism)
		}
	case SASLOAuthBearer:
		if s.Token == nil {
			return errors.New("kafka: SASL.Token is required for SASL.Mechanism OAUTHBEARER")
		}
	default:
		return fmt.Errorf("kafka: SASL.Mechanism %q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER", s.Mechanism)
	}
	return nil
}

func (t TLSConfig) validate() error {
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "") {
		return errors.New("kafka: TLS.CAFile, TLS.CertFile, TLS.KeyFile or TLS.ServerName is set but TLS.Enabled is false")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return errors.New("kafka: set both TLS.CertFile and TLS.KeyFile, or neither")
	}
	return nil
}

// origin renders " (from env X)" for errors about a secret setting.
func origin(s Secret) string {
	if s.Origin() == "" {
		return ""
	}
	return " (from " + s.Origin() + ")"
}

// ClientOptions validates c and returns the franz-go options for seed
// brokers, client ID, TLS and SASL. Callers add consumer or producer options.
func (c KafkaConfig) ClientOptions() ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	brokers := c.Brokers
	tlsCfg := c.TLS
	saslCfg := c.SASL
	if !c.EventHubsConnectionString.IsZero() {
		ns, _ := ParseEventHubsConnectionString(c.EventHubsConnectionString.Reveal()) // validated above
		if len(brokers) == 0 {
			brokers = []string{ns.Broker()}
		}
		tlsCfg.Enabled = true // Event Hubs only listens with TLS
		saslCfg = SASLConfig{Mechanism: SASLPlain, User: "$ConnectionString", Password: c.EventHubsConnectionString}
	}
	clientID := c.ClientID
	if clientID == "" {
		clientID = "ropcwatch"
	}
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ClientID(clientID)}
	tc, err := tlsCfg.build()
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	if tc != nil {
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if m := saslCfg.mechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	if len(c.Hooks) > 0 {
		opts = append(opts, kgo.WithHooks(c.Hooks...))
	}
	return opts, nil
}

func (s SASLConfig) mechanism() sasl.Mechanism {
	switch strings.ToUpper(s.Mechanism) {
	case SASLPlain:
		return plain.Auth{User: s.User, Pass: s.Password.Reveal()}.AsMechanism()
	case SASLScramSHA256:
		return scram.Auth{User: s.User, Pass: s.Password.Reveal()}.AsSha256Mechanism()
	case SASLScramSHA512:
		return scram.Auth{User: s.User, Pass: s.Password.Reveal()}.AsSha512Mechanism()
	case SASLOAuthBearer:
		src := s.Token
		return oauth.Oauth(func(ctx context.Context) (oauth.Auth, error) {
			tok, err := src.Token(ctx)
			if err != nil {
				return oauth.Auth{}, fmt.Errorf("oauthbearer token: %w", err)
			}
			return oauth.Auth{Token: tok}, nil
		})
	}
	return nil
}

// isEventHubs reports whether c targets Event Hubs, whose Kafka endpoint
// lacks some Kafka features (topic creation on Standard, lz4).
func (c KafkaConfig) isEventHubs() bool {
	if !c.EventHubsConnectionString.IsZero() {
		return true
	}
	for _, b := range c.Brokers {
		if isEventHubsHost(b) {
			return true
		}
	}
	return false
}
