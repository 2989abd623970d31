package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/ropcwatch/ropcwatch/detector"
	"github.com/ropcwatch/ropcwatch/stream"
)

// runDetect is `ropcwatch detect`: the rule over a bounded input, as the
// hourly Sentinel rule would have run it, with final alerts.
func runDetect(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("detect", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	input := fs.String("input", "", "sign-in records, one message per line, plain or gzip (`FILE`, or - for stdin)")
	output := fs.String("output", "-", "where alerts go, one JSON object per line (`FILE`, or - for stdout)")
	dead := fs.String("dead-letter", "", "write rejected input here with the reason (`FILE`)")
	rules := ruleFlags(fs)
	format := fs.String("format", "sentinel", "alert shape: sentinel or ocsf")
	validate := fs.String("validate", "prefilter", "prefilter: decode only records that may be ROPC (fast); full: decode and schema-check every record")
	workers := fs.Int("workers", 0, "parallel scanners; 0 means one per CPU")
	maxMsg := fs.Int("max-message-bytes", 1<<20, "reject longer lines as too-large (Event Hubs' own limit is 1 MiB)")
	offset := fs.Duration("window-offset", 0, "shift the hourly windows from the UTC hour, e.g. 15m")
	maxAlert := fs.Int("max-alert-bytes", detector.DefaultMaxRecordBytes, "cut the values of larger alerts, marking them Truncated, to fit an alerts topic of this message limit")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: ropcwatch detect --input FILE|- [--rule FILE] [--allowlist CSV] [--format sentinel|ocsf] [--output FILE|-] [--dead-letter FILE]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if *input == "" {
		fmt.Fprintln(e.stderr, "ropcwatch detect: --input is required (a file, or - for stdin)")
		return exitFailure
	}
	f, err := detector.ParseFormat(*format)
	if err != nil {
		fmt.Fprintf(e.stderr, "ropcwatch detect: --format: %v\n", err)
		return exitFailure
	}
	if *validate != "prefilter" && *validate != "full" {
		fmt.Fprintf(e.stderr, "ropcwatch detect: --validate %q: want prefilter or full\n", *validate)
		return exitFailure
	}
	rule, nets, err := rules.load(e.stderr)
	if err != nil {
		fmt.Fprintf(e.stderr, "ropcwatch detect: %v\n", err)
		return exitFailure
	}
	stats, err := detect(ctx, e, detector.BatchConfig{
		Rule: rule, Allowlist: nets, Format: f, FullDecode: *validate == "full",
		Workers: *workers, MaxMessageBytes: *maxMsg, MaxAlertBytes: *maxAlert, WindowOffset: *offset, Source: *input,
	}, *input, *output, *dead)
	if stats != nil {
		stats.WriteReport(e.stderr)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "ropcwatch detect: %v\n", err)
		return exitFailure
	}
	if stats.RejectedTotal() > 0 {
		hint := "rerun with --dead-letter FILE to keep them"
		if *dead != "" {
			hint = "written to " + *dead
		}
		fmt.Fprintf(e.stderr, "ropcwatch detect: %d messages or records rejected (%s)\n", stats.RejectedTotal(), hint)
		return exitRejected
	}
	return exitOK
}

func detect(ctx context.Context, e env, cfg detector.BatchConfig, input, output, dead string) (_ *detector.Stats, err error) {
	in, err := stream.OpenInput(input, e.stdin)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	out, err := stream.CreateOutput(output, e.stdout)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := out.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close output: %w", cerr)
		}
	}()
	var sink *stream.DeadLetterFile
	if dead != "" {
		df, err := stream.CreateOutput(dead, io.Discard)
		if err != nil {
			return nil, err
		}
		defer df.Close()
		sink = stream.NewDeadLetterFile(df)
		defer func() {
			if ferr := sink.Flush(); ferr != nil && err == nil {
				err = ferr
			}
		}()
	}
	var dl detector.DeadLetterSink
	if sink != nil {
		dl = sink
	}
	return detector.RunBatch(ctx, cfg, in, out, dl)
}

// usageError maps a flag parse error to an exit status: -h is not a failure.
func usageError(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitFailure
}
