package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ropcwatch/ropcwatch/cmd/ropcwatch/internal/loadreport"
)

// loadtestFlags are the flags of loadtest: every flag of run (they
// configure the in-process detector, and name the group and the rule of a
// detector running elsewhere), the flags of replay that say what to
// generate and how fast, and its own.
type loadtestFlags struct {
	fs                     *flag.FlagSet
	run                    *runFlags
	replay                 replayOptions
	inProcess              *bool
	partitions             *int
	span, wait             *time.Duration
	reportJSON, reportHTML *string
}

func newLoadtestFlags(w io.Writer) *loadtestFlags {
	fs, rf := newRunFlags(w)
	fs.Init("loadtest", flag.ContinueOnError)
	// An in-process detector serves metrics only when asked: a load test
	// beside a running service must not take its port.
	metrics := fs.Lookup("metrics-addr")
	metrics.DefValue = ""
	_ = metrics.Value.Set("")
	f := &loadtestFlags{
		fs: fs, run: rf, replay: replayFlags(fs),
		inProcess:  fs.Bool("in-process", false, "run the detector inside the load test, configured by the flags of run; default: measure a detector already consuming --topic in --group"),
		partitions: fs.Int("partitions", 3, "partitions of --topic when the load test creates it"),
		span:       fs.Duration("span", 3*time.Hour, "event time the generated records cover; whole windows end the stream at a window end, so its last window closes after idle timeout + lateness of silence"),
		wait:       fs.Duration("wait", 10*time.Minute, "after the replay, how long to wait for every expected window's final alert"),
		reportJSON: fs.String("report-json", "", "write the report as JSON to `FILE`"),
		reportHTML: fs.String("report-html", "", "write the report as a self-contained HTML page with charts to `FILE`"),
	}
	fs.Usage = func() {
		fmt.Fprint(w, `usage: ropcwatch loadtest --brokers ... --topic T --alerts-topic A --generate N [--seed S]
         [--rate N|--speed X] [--shift-to-now] [--in-process [flags of run]] [--group G]
         [--report-json FILE] [--report-html FILE]

Replays N generated sign-in records into T, reads the detector's alerts from A and measures
throughput, the consumer lag of the detector's group, and the latency from producing each
window's qualifying sign-ins to its early and final alerts; then compares the final alerts
with the generator's truth. Exit status 2 when they differ.

flags:
`)
		fs.PrintDefaults()
	}
	return f
}

// runLoadtest is `ropcwatch loadtest`: a measured replay against a
// detector.
func runLoadtest(ctx context.Context, e env, args []string) int {
	f := newLoadtestFlags(e.stderr)
	if err := parseRunFlags(f.fs, args, e.getenv); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(e.stderr, "ropcwatch loadtest: %v\n", err)
		}
		return usageError(err)
	}
	if f.fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "ropcwatch loadtest: unexpected argument %q\n", f.fs.Arg(0))
		return exitFailure
	}
	lt, err := newLoadtest(e, f, commandLine(args))
	if err != nil {
		fmt.Fprintf(e.stderr, "ropcwatch loadtest: %v\n", err)
		return exitFailure
	}
	measured, err := lt.run(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "ropcwatch loadtest: %v\n", err)
		return exitFailure
	}
	rep := loadreport.Build(measured)
	for _, out := range []struct {
		path  string
		write func(io.Writer) error
	}{{*f.reportJSON, rep.WriteJSON}, {*f.reportHTML, rep.WriteHTML}} {
		if out.path == "" {
			continue
		}
		if err := writeFile(out.path, out.write); err != nil {
			fmt.Fprintf(e.stderr, "ropcwatch loadtest: %v\n", err)
			return exitFailure
		}
	}
	rep.WriteSummary(e.stdout)
	if !rep.Correctness.Clean() {
		return exitRejected
	}
	return exitOK
}

// commandLine renders the arguments as a shell would take them back.
func commandLine(args []string) string {
	var b strings.Builder
	b.WriteString("ropcwatch loadtest")
	for _, a := range args {
		b.WriteByte(' ')
		if strings.ContainsAny(a, " \t\n\"'\\$`*?[]{}()<>|&;#~") || a == "" {
			a = strconv.Quote(a)
		}
		b.WriteString(a)
	}
	return b.String()
}
