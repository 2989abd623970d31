package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/ropcwatch/ropcwatch/stream"
)

// kafkaOptions are the flags that say how to reach Kafka or Event Hubs.
// Secrets never come from a setting's value (flags show in ps): a secret
// flag names where the secret is, as env:NAME or file:PATH (see refs).
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
		eventHubs:     fs.String(flagEventHubs, "", "Event Hubs namespace connection string, as `env:NAME or file:PATH` (default: env:EVENTHUBS_CONNECTION_STRING when set)"),
		saslMechanism: fs.String("sasl-mechanism", "", "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"),
		saslUser:      fs.String("sasl-user", "", "SASL user for PLAIN and SCRAM"),
		saslPassword:  fs.String(flagSASLPassword, "env:KAFKA_SASL_PASSWORD", "where the SASL password is, as `env:NAME or file:PATH`; never the password itself"),
		oauthToken:    fs.String("oauth-token-file", "", "OAUTHBEARER token file, re-read for each authentication (`FILE`); default for Event Hubs: Entra ID workload or managed identity"),
		tls:           fs.Bool("tls", false, "connect with TLS (implied by --tls-ca and by Event Hubs)"),
		tlsCA:         fs.String("tls-ca", "", "CA certificates to trust, PEM (`FILE`); default: the system roots"),
		tlsCert:       fs.String("tls-cert", "", "client certificate, PEM (`FILE`)"),
		tlsKey:        fs.String("tls-key", "", "client private key, PEM (`FILE`)"),
		tlsServerName: fs.String("tls-server-name", "", "server name to verify; default: the broker host"),
	}
}

// Names of the flags whose value says where a secret is, never the secret.
const (
	flagEventHubs    = "eventhubs-connection-string"
	flagSASLPassword = "sasl-password"
)

// secretRefs are the references the secret flags hold. A zero reference
// names no secret.
type secretRefs struct {
	eventHubs, saslPassword stream.SecretRef
}

// refs parses the secret flags. Each must be a reference, env:NAME or
// file:PATH, under every SASL mechanism (none included), wherever the
// value came from: the command line, ROPCWATCH_* or the --config file. A
// secret written as itself shows in process listings, shell history and
// files, so it is refused. An empty --eventhubs-connection-string means
// env:EVENTHUBS_CONNECTION_STRING when that variable is set. Errors name
// the flag, never its value.
func (o kafkaOptions) refs(getenv func(string) string) (secretRefs, error) {
	eventHubs := *o.eventHubs
	if eventHubs == "" && getenv("EVENTHUBS_CONNECTION_STRING") != "" {
		eventHubs = "env:EVENTHUBS_CONNECTION_STRING"
	}
	var refs secretRefs
	for _, f := range []struct {
		name, value string
		ref         *stream.SecretRef
	}{
		{flagEventHubs, eventHubs, &refs.eventHubs},
		{flagSASLPassword, *o.saslPassword, &refs.saslPassword},
	} {
		if f.value == "" {
			continue
		}
		r, err := stream.ParseSecretRef(f.value)
		if err != nil {
			return refs, fmt.Errorf("--%s: %w", f.name, err)
		}
		*f.ref = r
	}
	return refs, nil
}

// byFlag returns the reference a secret flag holds, and whether name is a
// secret flag.
func (r secretRefs) byFlag(name string) (stream.SecretRef, bool) {
	switch name {
	case flagEventHubs:
		return r.eventHubs, true
	case flagSASLPassword:
		return r.saslPassword, true
	}
	return stream.SecretRef{}, false
}

// config builds the connection settings, reading the secrets the flags
// refer to: the Event Hubs connection string when given, the SASL password
// only for PLAIN and SCRAM.
func (o kafkaOptions) config(getenv func(string) string) (stream.KafkaConfig, error) {
	cfg := stream.KafkaConfig{ClientID: "ropcwatch"}
	refs, err := o.refs(getenv)
	if err != nil {
		return cfg, err
	}
	for _, b := range strings.Split(*o.brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.Brokers = append(cfg.Brokers, b)
		}
	}
	if !refs.eventHubs.IsZero() {
		s, err := refs.eventHubs.Read(getenv)
		if err != nil {
			return cfg, fmt.Errorf("--%s: %w", flagEventHubs, err)
		}
		cfg.EventHubsConnectionString = s
	}
	mech := strings.ToUpper(*o.saslMechanism)
	cfg.SASL = stream.SASLConfig{Mechanism: mech, User: *o.saslUser}
	switch mech {
	case stream.SASLPlain, stream.SASLScramSHA256, stream.SASLScramSHA512:
		s, err := refs.saslPassword.Read(getenv)
		if err != nil {
			return cfg, fmt.Errorf("--%s: %w", flagSASLPassword, err)
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
