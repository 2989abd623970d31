package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/ropcwatch/ropcwatch/stream"
)

// kafkaOptions are the flags that say how to reach Kafka or Event Hubs.
// Secrets never come from a flag value (flags show in ps): a secret flag
// names where the secret is, as env:NAME or file:PATH.
type kafkaOptions struct {
	brokers       *string
	eventHubs     *string
	saslMechanism *string
	saslUser      *string
	saslPassword  *string
	oauthToken    *string
	tls           *bool
	tlsCA         *string
	tlsCert       *string
	tlsKey        *string
	tlsServerName *string
}

func kafkaFlags(fs *flag.FlagSet) kafkaOptions {
	return kafkaOptions{
		brokers:       fs.String("brokers", "", "bootstrap brokers, `HOST:PORT,...` (not needed with an Event Hubs connection string)"),
		eventHubs:     fs.String("eventhubs-connection-string", "", "Event Hubs namespace connection string, as `env:NAME or file:PATH` (default: env:EVENTHUBS_CONNECTION_STRING when set)"),
		saslMechanism: fs.String("sasl-mechanism", "", "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"),
		saslUser:      fs.String("sasl-user", "", "SASL user for PLAIN and SCRAM"),
		saslPassword:  fs.String("sasl-password", "env:KAFKA_SASL_PASSWORD", "SASL password, as `env:NAME or file:PATH`"),
		oauthToken:    fs.String("oauth-token-file", "", "OAUTHBEARER token file, re-read for each authentication (`FILE`); default for Event Hubs: Entra ID workload or managed identity"),
		tls:           fs.Bool("tls", false, "connect with TLS (implied by --tls-ca and by Event Hubs)"),
		tlsCA:         fs.String("tls-ca", "", "CA certificates to trust, PEM (`FILE`); default: the system roots"),
		tlsCert:       fs.String("tls-cert", "", "client certificate, PEM (`FILE`)"),
		tlsKey:        fs.String("tls-key", "", "client private key, PEM (`FILE`)"),
		tlsServerName: fs.String("tls-server-name", "", "server name to verify; default: the broker host"),
	}
}

// config builds the connection settings, reading secrets from the
// environment or files.
func (o kafkaOptions) config(getenv func(string) string) (stream.KafkaConfig, error) {
	cfg := stream.KafkaConfig{ClientID: "ropcwatch"}
	for _, b := range strings.Split(*o.brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.Brokers = append(cfg.Brokers, b)
		}
	}
	ref := *o.eventHubs
	if ref == "" && getenv("EVENTHUBS_CONNECTION_STRING") != "" {
		ref = "env:EVENTHUBS_CONNECTION_STRING"
	}
	if ref != "" {
		s, err := secretRef(ref, getenv)
		if err != nil {
			return cfg, fmt.Errorf("--eventhubs-connection-string: %w", err)
		}
		cfg.EventHubsConnectionString = s
	}
	mech := strings.ToUpper(*o.saslMechanism)
	cfg.SASL = stream.SASLConfig{Mechanism: mech, User: *o.saslUser}
	switch mech {
	case stream.SASLPlain, stream.SASLScramSHA256, stream.SASLScramSHA512:
		s, err := secretRef(*o.saslPassword, getenv)
		if err != nil {
			return cfg, fmt.Errorf("--sasl-password: %w", err)
		}
		cfg.SASL.Password = s
	case stream.SASLOAuthBearer:
		if *o.oauthToken != "" {
			cfg.SASL.Token = stream.FileTokenSource(*o.oauthToken)
		} else if len(cfg.Brokers) > 0 {
			ts, err := stream.AzureTokenSource(strings.Split(cfg.Brokers[0], ":")[0])
			if err != nil {
				return cfg, fmt.Errorf("--sasl-mechanism OAUTHBEARER: %w", err)
			}
			cfg.SASL.Token = ts
		}
	}
	cfg.TLS = stream.TLSConfig{
		Enabled: *o.tls || *o.tlsCA != "" || *o.tlsCert != "",
		CAFile:  *o.tlsCA, CertFile: *o.tlsCert, KeyFile: *o.tlsKey, ServerName: *o.tlsServerName,
	}
	return cfg, cfg.Validate()
}

// secretRef reads a secret named as env:NAME or file:PATH.
func secretRef(ref string, getenv func(string) string) (stream.Secret, error) {
	kind, where, ok := strings.Cut(ref, ":")
	switch {
	case ok && kind == "env":
		s := stream.SecretFromEnv(getenv, where)
		if s.IsZero() {
			return s, fmt.Errorf("environment variable %s is empty or unset", where)
		}
		return s, nil
	case ok && kind == "file":
		if _, err := os.Stat(where); err != nil {
			return stream.Secret{}, fmt.Errorf("secret file: %w", err)
		}
		return stream.SecretFromFile(where)
	}
	return stream.Secret{}, errors.New("want env:NAME or file:PATH (a secret is never given on the command line)")
}
