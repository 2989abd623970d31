package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ropcwatch/ropcwatch/detector"
	"github.com/ropcwatch/ropcwatch/detector/synth"
	"github.com/ropcwatch/ropcwatch/stream"
)

// replayOptions are the flags of replay that loadtest shares: what to
// generate, and how to pace and batch it.
type replayOptions struct {
	generate    *int
	seed        *uint64
	rate, speed *float64
	shift       *bool
	progress    *time.Duration
	compression *string
	linger      *time.Duration
}

func replayFlags(fs *flag.FlagSet) replayOptions {
	return replayOptions{
		generate:    fs.Int("generate", 0, "replay `N` generated records instead of files"),
		seed:        fs.Uint64("seed", 1, "generator seed, with --generate"),
		rate:        fs.Float64("rate", 0, "messages per second; 0 means as fast as possible"),
		speed:       fs.Float64("speed", 0, "follow the event times at this speed-up (60 = an hour a minute); 0 means off"),
		shift:       fs.Bool("shift-to-now", false, "move time, createdDateTime and TimeGenerated so that the first message happens now (loadtest generates its records at the present instead, so that its truth holds)"),
		progress:    fs.Duration("progress", 2*time.Second, "interval of the progress line on stderr (a terminal gets one line redrawn in place, with an ETA); 0 turns it off"),
		compression: fs.String("compression", "", "lz4, gzip or none; default lz4 (gzip for Event Hubs)"),
		linger:      fs.Duration("linger", 10*time.Millisecond, "how long a batch waits for more messages"),
	}
}

// validate checks the pacing flags.
func (o replayOptions) validate() error {
	if *o.rate < 0 || *o.speed < 0 || *o.generate < 0 {
		return errors.New("--generate, --rate and --speed must not be negative")
	}
	return nil
}

// replayer returns a replayer to topic with its producer; close the
// producer when done.
func (o replayOptions) replayer(e env, kcfg stream.KafkaConfig, topic string) (*replayer, error) {
	p, err := stream.NewProducer(replayProducerConfig(kcfg, *o.linger, *o.compression))
	if err != nil {
		return nil, err
	}
	return &replayer{e: e, p: p, topic: topic, pacer: stream.Pacer{Rate: *o.rate, Speed: *o.speed}, shift: *o.shift, start: time.Now()}, nil
}

// runReplay is `ropcwatch replay`: recorded (JSON lines or Event Hubs
// Capture files) or generated sign-in streams into a topic, paced,
// optionally shifted to the present.
func runReplay(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	kafka := kafkaFlags(fs)
	topic := fs.String("topic", "", "topic or event hub to write to (required)")
	opts := replayFlags(fs)
	loop := fs.Int("loop", 1, "replay the sources `N` times")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: ropcwatch replay --topic T [--brokers ...] [--rate N|--speed X] [--shift-to-now] [--loop N] (--generate N | FILE...)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	files := fs.Args()
	if err := opts.validate(); err != nil {
		fmt.Fprintf(e.stderr, "ropcwatch replay: %v\n", err)
		return exitFailure
	}
	switch {
	case *topic == "":
		fmt.Fprintln(e.stderr, "ropcwatch replay: --topic is required")
		return exitFailure
	case (*opts.generate > 0) == (len(files) > 0):
		fmt.Fprintln(e.stderr, "ropcwatch replay: give files to replay, or --generate N, not both")
		return exitFailure
	case *loop < 1:
		fmt.Fprintln(e.stderr, "ropcwatch replay: --loop must be at least 1")
		return exitFailure
	}
	kcfg, err := kafka.config(e.getenv)
	if err != nil {
		fmt.Fprintf(e.stderr, "ropcwatch replay: %v\n", err)
		return exitFailure
	}
	r, err := opts.replayer(e, kcfg, *topic)
	if err != nil {
		fmt.Fprintf(e.stderr, "ropcwatch replay: %v\n", err)
		return exitFailure
	}
	defer r.p.Close()
	stop := func() {}
	if *opts.progress > 0 {
		total := int64(*opts.generate) * int64(*loop)
		if *opts.generate == 0 {
			total = filesSize(files) * int64(*loop)
		}
		stop = r.report(*opts.progress, total)
	}
	for range *loop {
		if *opts.generate > 0 {
			_, err = r.generated(ctx, synth.Config{Records: *opts.generate, Seed: *opts.seed})
		} else {
			err = r.files(ctx, files)
		}
		if err != nil {
			break
		}
	}
	if ferr := r.p.Flush(context.WithoutCancel(ctx)); err == nil {
		err = ferr
	}
	if err == nil {
		err = r.err.Load()
	}
	stop()
	r.line(e.stderr, "replayed")
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(e.stderr, "ropcwatch replay: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// replayProducerConfig is the producer of replay: many records in flight
// (but at most 256 MiB of them, should the brokers stall) and batches that
// wait linger for more.
func replayProducerConfig(kcfg stream.KafkaConfig, linger time.Duration, compression string) stream.ProducerConfig {
	return stream.ProducerConfig{Kafka: kcfg, Linger: linger, MaxBufferedRecords: 50000, MaxBufferedBytes: 256 << 20, Compression: compression}
}

// replayer writes messages to the topic and counts them.
type replayer struct {
	e     env
	p     *stream.Producer
	topic string
	pacer stream.Pacer
	shift bool
	by    time.Duration // the shift, fixed by the first message
	start time.Time
	sent  atomic.Int64
	bytes atomic.Int64
	input atomic.Int64 // input consumed: bytes of the files as stored, or generated records
	// acked and ackedBytes count messages the brokers acknowledged.
	acked, ackedBytes atomic.Int64
	// onSend, when set, sees each message as it is handed to the producer,
	// on the replaying goroutine; the function it returns, when not nil, is
	// called with the time the brokers acknowledged the message.
	onSend func(msg []byte) (onAck func(at time.Time))
	err    atomicError
}

// atomicError keeps the first error stored, for produce callbacks.
type atomicError struct {
	mu  sync.Mutex
	err error
}

func (a *atomicError) Store(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil {
		a.err = err
	}
}

func (a *atomicError) Load() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// files replays each file: JSON lines or Event Hubs Capture, plain or gzip.
func (r *replayer) files(ctx context.Context, paths []string) error {
	for _, path := range paths {
		if err := r.file(ctx, path); err != nil {
			return err
		}
	}
	return nil
}

// file replays one file, counting its bytes as stored for the progress.
func (r *replayer) file(ctx context.Context, path string) error {
	m, err := stream.OpenMessages(path, r.e.stdin)
	if err != nil {
		return err
	}
	defer m.Close()
	base := r.input.Load()
	for {
		msg, err := m.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err == nil {
			r.input.Store(base + m.InputBytes())
			err = r.send(ctx, msg)
		}
		if err != nil {
			return fmt.Errorf("replay %s: %w", path, err)
		}
	}
}

// generated replays a generated stream and returns its truth.
func (r *replayer) generated(ctx context.Context, cfg synth.Config) (*synth.Truth, error) {
	return synth.GenerateEach(ctx, cfg, func(line []byte, records int) error {
		r.input.Add(int64(records))
		return r.send(ctx, line[:len(line)-1]) // without its newline
	})
}

// send produces a copy of msg, shifted if asked, once the pacer lets it go.
// Empty messages are skipped.
func (r *replayer) send(ctx context.Context, msg []byte) error {
	if err := r.err.Load(); err != nil {
		return err
	}
	if len(msg) == 0 {
		return nil
	}
	et, _ := detector.EventTime(msg)
	if r.shift {
		if r.by == 0 && !et.IsZero() {
			r.by = time.Since(et)
		}
		msg = detector.ShiftTimes(msg, r.by)
	} else {
		msg = bytes.Clone(msg)
	}
	if err := r.pacer.Wait(ctx, et); err != nil {
		return err
	}
	var onAck func(time.Time)
	if r.onSend != nil {
		onAck = r.onSend(msg)
	}
	r.p.Produce(ctx, stream.Record{Topic: r.topic, Value: msg}, func(_ stream.Record, err error) {
		if err != nil {
			r.err.Store(err)
			return
		}
		r.acked.Add(1)
		r.ackedBytes.Add(int64(len(msg)))
		if onAck != nil {
			onAck(time.Now())
		}
	})
	r.sent.Add(1)
	r.bytes.Add(int64(len(msg)))
	return nil
}

// status is how far the replay has got.
func (r *replayer) status() status {
	return status{messages: r.sent.Load(), bytes: r.bytes.Load(), elapsed: time.Since(r.start), input: r.input.Load()}
}

// report shows the progress every interval until stopped; total is the
// input expected (generated records, or file bytes; zero when unknown).
func (r *replayer) report(every time.Duration, total int64) (stop func()) {
	return newProgress(r.e.stderr, total).run(every, r.status)
}

// line prints the status once, as a plain line.
func (r *replayer) line(w io.Writer, what string) { fmt.Fprintln(w, r.status().line(what)) }
