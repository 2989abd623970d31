package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ropcwatch/ropcwatch/detector/synth"
)

// runGenerate writes a deterministic synthetic sign-in stream to stdout, one
// Event Hubs envelope per line, and optionally the rows the rule must find
// (--truth) and the NetworkAllowlist watchlist (--allowlist-out). When the
// allowlist is written, the truth assumes it is in force.
func runGenerate(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("ropcwatch generate", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var (
		cfg                    synth.Config
		start                  string
		truthPath, allowlistTo string
	)
	fs.IntVar(&cfg.Records, "records", 0, "number of records to write, all categories (required)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed; the same flags always give the same bytes")
	fs.Float64Var(&cfg.ROPCRate, "ropc-rate", synth.DefaultROPCRate, "share of records that are non-interactive ROPC sign-ins")
	fs.StringVar(&start, "start", synth.DefaultStart.Format(time.RFC3339), "event time of the first record (RFC 3339)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "records per second of event time (0: the stream spans 3.5 windows)")
	fs.IntVar(&cfg.Users, "users", synth.DefaultUsers, "number of user accounts")
	fs.StringVar(&truthPath, "truth", "", "write the rows the rule must report here, as JSON lines")
	fs.StringVar(&allowlistTo, "allowlist-out", "", "write the NetworkAllowlist CSV here; the truth then assumes it is in force")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: ropcwatch generate --records N [--seed S] [--ropc-rate R] [--start RFC3339] [--rate R] [--users N] [--truth FILE] [--allowlist-out FILE]")
		fmt.Fprintln(e.stderr, "\nWrites Entra ID sign-in records to stdout, one diagnostic-settings envelope {\"records\":[...]} per line.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitFailure
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "ropcwatch generate: "+format+"\n", a...)
		return exitFailure
	}
	if fs.NArg() > 0 {
		return fail("unexpected argument %q", fs.Arg(0))
	}
	if cfg.Records <= 0 {
		return fail("--records: want a number of records above 0, got %d", cfg.Records)
	}
	if cfg.ROPCRate <= 0 || cfg.ROPCRate > 1 {
		return fail("--ropc-rate: want a share above 0 and at most 1, got %v", cfg.ROPCRate)
	}
	if cfg.Rate < 0 {
		return fail("--rate: want records per second above 0, got %v", cfg.Rate)
	}
	if cfg.Users <= 0 {
		return fail("--users: want a number of users above 0, got %d", cfg.Users)
	}
	t, err := time.Parse(time.RFC3339Nano, start)
	if err != nil {
		return fail("--start: %v", err)
	}
	cfg.Start = t.UTC()
	cfg.AllowlistIPs = allowlistTo != ""
	if err := cfg.Validate(); err != nil {
		return fail("%v", err)
	}

	if allowlistTo != "" {
		if err := writeFile(allowlistTo, synth.WriteAllowlist); err != nil {
			return fail("--allowlist-out: %v", err)
		}
	}
	// Open the truth file first: a bad path should not cost a whole run.
	var truthFile *os.File
	if truthPath != "" {
		if truthFile, err = os.Create(truthPath); err != nil {
			return fail("--truth: %v", err)
		}
		defer truthFile.Close()
	}
	out := bufio.NewWriterSize(e.stdout, 1<<20)
	truth, err := synth.Generate(ctx, cfg, out)
	if err == nil {
		err = out.Flush()
	}
	if err != nil {
		return fail("%v", err)
	}
	if truthFile != nil {
		if err := truth.WriteJSONLines(truthFile); err != nil {
			return fail("--truth: %v", err)
		}
		if err := truthFile.Close(); err != nil {
			return fail("--truth: %v", err)
		}
	}
	s := truth.Stats
	fmt.Fprintf(e.stderr, "ropcwatch generate: %d records in %d messages (%d bytes), %d ROPC, %d redelivered, %d qualifying, %d result rows\n",
		s.Records, s.Messages, s.Bytes, s.ROPC, s.Redelivered, s.Qualifying, len(truth.Rows))
	return exitOK
}

// writeFile creates path and fills it with write.
func writeFile(path string, write func(w io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
