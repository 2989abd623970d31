package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"
)

// Exit statuses of every subcommand (SPEC section 7).
const (
	exitOK       = 0 // every record evaluated or skipped by category
	exitFailure  = 1 // the command could not run
	exitRejected = 2 // some records were rejected and reported
)

// env is what a subcommand may touch of the process: only cmd reads flags,
// environment and signals.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

type subcommand struct {
	name    string
	summary string
	run     func(ctx context.Context, e env, args []string) int
}

func subcommands() []subcommand {
	return []subcommand{
		{"run", "consume sign-ins from Kafka or Event Hubs and produce alerts (the service)", runService},
		{"demo", "run the whole pipeline on an in-process demo broker with generated attacks", runDemo},
		{"config", "config check: print and validate the effective settings of run", runConfig},
		{"replay", "produce recorded or generated sign-ins into a topic, paced and optionally shifted to now", runReplay},
		{"loadtest", "replay generated sign-ins against a detector and report throughput, lag, alert latency and correctness", runLoadtest},
		{"detect", "evaluate the rule over a file of sign-ins (batch) and write alerts", runDetect},
		{"generate", "write a deterministic stream of realistic sign-in records", runGenerate},
		{"compare", "compare the result rows of an alert file with a truth file or another alert file", runCompare},
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitFailure
		}
		return exitOK
	}
	for _, c := range subcommands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(stderr, "ropcwatch: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitFailure
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ropcwatch <command> [flags]\n\ncommands:")
	for _, c := range subcommands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'ropcwatch <command> -h' for the flags of a command.")
}
