package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// runConfig is `ropcwatch config check`: it resolves the settings of run
// exactly as run would (file, environment, flags), validates them, loads
// the rule and allowlist, and prints the effective settings. A secret
// setting prints only as the kind and place of its reference ("env
// KAFKA_SASL_PASSWORD ([redacted])"), never as its value.
func runConfig(_ context.Context, e env, args []string) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(e.stderr, "usage: ropcwatch config check [--config FILE] [run flags...]")
		return exitFailure
	}
	fs, f := newRunFlags(io.Discard)
	if err := parseRunFlags(fs, args[1:], e.getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(e.stderr, "ropcwatch config check: %v\n", err)
		return exitFailure
	}
	cfg, err := serviceConfig(e, f)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "ropcwatch config check: %v\n", err)
		return exitFailure
	}
	refs, err := f.kafka.refs(e.getenv)
	if err != nil { // serviceConfig has parsed them already
		fmt.Fprintf(e.stderr, "ropcwatch config check: %v\n", err)
		return exitFailure
	}
	fs.VisitAll(func(fl *flag.Flag) {
		v := fl.Value.String()
		if ref, secret := refs.byFlag(fl.Name); secret {
			// The reference as parsed, never the setting as written.
			v = ""
			if !ref.IsZero() {
				v = ref.String() + " ([redacted])"
			}
		}
		fmt.Fprintf(e.stdout, "%-28s %s\n", fl.Name, v)
	})
	fmt.Fprintf(e.stdout, "%-28s %s\n", "effective brokers", strings.Join(brokersOf(cfg.Consumer.Kafka.Brokers), ","))
	fmt.Fprintf(e.stdout, "%-28s %s (%s, %d legit apps, %d legit users, %d network entries)\n", "configuration version",
		cfg.ConfigVersion, cfg.Live.Rule.Name, len(cfg.Live.Rule.LegitApps), len(cfg.Live.Rule.LegitUsers), cfg.Live.Allowlist.Len())
	fmt.Fprintln(e.stdout, "configuration is valid")
	return exitOK
}

func brokersOf(b []string) []string {
	if len(b) == 0 {
		return []string{"(from the Event Hubs connection string)"}
	}
	return b
}
