package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ropcwatch/ropcwatch/detector"
)

// watchConfig re-reads the rule and allowlist files on SIGHUP and every
// interval (a ConfigMap update replaces files in place), and sends each
// new version that loads to the service. A file that does not load is
// reported and the running configuration kept. It returns when ctx is done.
func watchConfig(ctx context.Context, rules ruleOptions, current string, interval time.Duration, log *slog.Logger, out chan<- detector.Config) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	failed := ""
	for {
		reason := "file check"
		select {
		case <-ctx.Done():
			return
		case <-hup:
			reason = "SIGHUP"
		case <-tick:
		}
		c, err := rules.read(io.Discard)
		if err != nil {
			// Say it once per broken state, not at every tick.
			if msg := err.Error(); msg != failed || reason == "SIGHUP" {
				log.Error("configuration not reloaded; keeping the previous one", "trigger", reason, "error", err)
				failed = msg
			}
			continue
		}
		failed = ""
		if c.Version == current {
			continue
		}
		log.Info("configuration changed", "trigger", reason, "from", current, "to", c.Version)
		select {
		case out <- c:
			current = c.Version
		case <-ctx.Done():
			return
		}
	}
}
