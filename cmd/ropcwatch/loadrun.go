package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ropcwatch/ropcwatch/cmd/ropcwatch/internal/loadreport"
	"github.com/ropcwatch/ropcwatch/detector"
	"github.com/ropcwatch/ropcwatch/detector/synth"
	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/window"
)

const (
	// readyTimeout bounds the wait for the detector's group and the alert
	// reader to be assigned their partitions before the replay starts.
	readyTimeout = 60 * time.Second
	// settle is how long alerts are still read after the last expected
	// final: extra alerts and amendments come in it.
	settle = 2 * time.Second
)

// loadtest is one load test, checked and ready to run.
type loadtest struct {
	e       env
	f       *loadtestFlags
	command string
	kcfg    stream.KafkaConfig
	topic   string
	alerts  string
	group   string
	synth   synth.Config
	qual    *qualifier
}

// newLoadtest checks the flags; errors name the flag.
func newLoadtest(e env, f *loadtestFlags, command string) (*loadtest, error) {
	lt := &loadtest{e: e, f: f, command: command, alerts: *f.run.alerts, group: *f.run.group}
	topics := f.run.topicList()
	switch {
	case len(topics) != 1:
		return nil, errors.New("--topic: want the one topic to replay into")
	case lt.alerts == "":
		return nil, errors.New("--alerts-topic is required")
	case *f.replay.generate <= 0:
		return nil, errors.New("--generate N is required: the load test replays generated records, whose truth it knows")
	case *f.run.format != string(detector.FormatSentinel):
		return nil, errors.New("--format: the load test reads Sentinel-shape alerts; leave it at sentinel")
	case *f.run.offset != 0:
		return nil, errors.New("--window-offset: the generator's truth has windows aligned to the UTC hour; leave it at 0")
	case *f.partitions < 1 || *f.span <= 0 || *f.wait <= 0:
		return nil, errors.New("--partitions, --span and --wait must be positive")
	}
	if err := f.replay.validate(); err != nil {
		return nil, err
	}
	lt.topic = topics[0]
	kcfg, err := f.run.kafka.config(e.getenv)
	if err != nil {
		return nil, err
	}
	lt.kcfg = kcfg
	// An in-process detector reports the rule's warnings when it loads it.
	warnings := e.stderr
	if *f.inProcess {
		warnings = io.Discard
	}
	c, err := f.run.rules.read(warnings)
	if err != nil {
		return nil, err
	}
	lt.qual = &qualifier{
		sc:    detector.Scanner{Rule: c.Rule, Allowlist: c.Allowlist, MaxMessageBytes: *f.run.maxMsg},
		align: window.Aligner{Size: c.Rule.QueryPeriod},
	}
	n := *f.replay.generate
	lt.synth = synth.Config{
		Records: n, Seed: *f.replay.seed, Rate: float64(n) / f.span.Seconds(), Window: c.Rule.QueryPeriod,
		// The truth assumes the allowlist generate --allowlist-out writes.
		AllowlistIPs: *f.run.rules.allowlist != "",
	}
	if err := lt.synth.Validate(); err != nil {
		return nil, fmt.Errorf("generator: %w", err)
	}
	return lt, nil
}

// run performs the load test: the detector (in process, or the one
// already running), an alert watcher and a sampler are started and
// waited for; the generated records are replayed; then it waits for every
// expected final alert, and stops everything it started.
func (lt *loadtest) run(ctx context.Context) (loadreport.Run, error) {
	mon, err := stream.NewMonitor(lt.kcfg)
	if err != nil {
		return loadreport.Run{}, err
	}
	defer mon.Close()
	before, alertsFrom, err := lt.prepareTopics(ctx, mon)
	if err != nil {
		return loadreport.Run{}, err
	}
	r, err := lt.f.replay.replayer(lt.e, lt.kcfg, lt.topic)
	if err != nil {
		return loadreport.Run{}, err
	}
	defer r.p.Close()

	g, gctx := errgroup.WithContext(ctx) // the detector, when in process
	detectorCtx, stopDetector := context.WithCancel(gctx)
	defer stopDetector()
	processed, err := lt.startDetector(detectorCtx, g)
	if err != nil {
		return loadreport.Run{}, err
	}
	watcher, err := newAlertWatcher(lt.kcfg, lt.alerts, alertsFrom)
	if err != nil {
		stopDetector()
		return loadreport.Run{}, errors.Join(err, g.Wait())
	}
	// Measuring stops when the detector fails; the replay too.
	mg, mctx := errgroup.WithContext(gctx)
	measureCtx, stopMeasuring := context.WithCancel(mctx)
	defer stopMeasuring()
	mg.Go(func() error { return watcher.run(measureCtx) })
	smp := &sampler{mon: mon, topic: lt.topic, group: lt.group, baseline: before.Committed(), warn: lt.e.stderr,
		produced: func() loadreport.Count { return loadreport.Count{Messages: r.acked.Load(), Bytes: r.ackedBytes.Load()} }}
	if processed != nil {
		smp.consumed = processed.count
	}

	var truth *synth.Truth
	var produced loadreport.Flow
	t0 := time.Now()
	err = lt.awaitReady(mctx, mon, watcher)
	if err == nil {
		t0 = time.Now()
		mg.Go(func() error { smp.run(measureCtx, t0); return nil })
		truth, produced, err = lt.replay(mctx, r, watcher, processed, t0)
	}
	stopMeasuring()
	merr := mg.Wait()
	stopDetector()
	// The first cause wins: a failed detector cancels what measures it.
	for _, e := range []error{g.Wait(), merr, err} {
		if e != nil {
			return loadreport.Run{}, e
		}
	}
	windows, rows := watcher.result(t0)
	out := loadreport.Run{
		Settings: loadreport.Settings{
			Command: lt.command, Started: t0.UTC(), Topic: lt.topic, Partitions: len(before), Group: lt.group,
			InProcess: processed != nil, SignIns: int64(truth.Stats.Records),
		},
		Produced: produced, Samples: smp.samples, Windows: windows,
		Expected: len(truth.Rows), Diff: synth.Compare(truth.Rows, rows),
	}
	if processed != nil {
		// Only the detector in process is known to run with these.
		out.Consumed = processed.flow(t0)
		out.Settings.Lateness, out.Settings.IdleTimeout = lt.f.run.lateness.String(), lt.f.run.idle.String()
	}
	return out, nil
}

// startDetector starts the detector in process under g, when asked, and
// returns what reports its progress; nil when the detector runs elsewhere.
func (lt *loadtest) startDetector(ctx context.Context, g *errgroup.Group) (*processedCount, error) {
	if !*lt.f.inProcess {
		return nil, nil
	}
	cfg, err := prepareService(ctx, lt.e, lt.f.run)
	if err != nil {
		return nil, err
	}
	processed := &processedCount{}
	cfg.OnBatch = processed.observe
	g.Go(func() error { return detector.RunService(ctx, cfg) })
	return processed, nil
}

// prepareTopics creates the topics that do not exist and reads the offsets
// the run starts from: of the sign-in topic with the detector's group, and
// of the alerts topic (earlier alerts are not this run's).
func (lt *loadtest) prepareTopics(ctx context.Context, mon *stream.Monitor) (signins, alerts stream.TopicOffsets, err error) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	topics := map[string]int32{lt.topic: int32(*lt.f.partitions), lt.alerts: 1}
	for _, t := range []string{*lt.f.run.dead, *lt.f.run.incidents} {
		if t != "" {
			topics[t] = 1
		}
	}
	if err := stream.EnsureTopics(ctx, lt.kcfg, topics); err != nil {
		return nil, nil, err
	}
	if signins, err = mon.Offsets(ctx, lt.topic, lt.group); err != nil {
		return nil, nil, err
	}
	if n, done := signins.End(), signins.Committed(); *lt.f.inProcess && n > done {
		fmt.Fprintf(lt.e.stderr, "ropcwatch loadtest: topic %s already holds %d records that group %s has not committed; the detector reads them too, and their alerts count as extra (use a new topic or group)\n", lt.topic, n-done, lt.group)
	}
	alerts, err = mon.Offsets(ctx, lt.alerts, "")
	return signins, alerts, err
}

// replay produces the generated records, telling the watcher when the
// brokers acknowledged each message that holds qualifying sign-ins, then
// waits for the expected finals.
// It returns the truth and what the brokers acknowledged.
func (lt *loadtest) replay(ctx context.Context, r *replayer, w *alertWatcher, processed *processedCount, t0 time.Time) (*synth.Truth, loadreport.Flow, error) {
	r.start = t0
	r.onSend = func(msg []byte) func(time.Time) {
		q := lt.qual.of(msg)
		if len(q) == 0 {
			return nil
		}
		return func(at time.Time) {
			select {
			case w.sent <- sentMessage{at: at, signIns: q}:
			case <-ctx.Done():
			}
		}
	}
	stop := func() {}
	if *lt.f.replay.progress > 0 {
		stop = r.report(*lt.f.replay.progress, int64(lt.synth.Records))
	}
	cfg := lt.synth
	if r.shift {
		// Generate at the present rather than move the records there:
		// moving times moves sign-ins across window boundaries, and the
		// truth would no longer describe what was sent.
		cfg.Start, r.shift = t0.UTC().Truncate(time.Second), false
	}
	truth, err := r.generated(ctx, cfg)
	if ferr := r.p.Flush(context.WithoutCancel(ctx)); err == nil {
		err = ferr
	}
	if err == nil {
		err = r.err.Load()
	}
	stop()
	if err != nil {
		return nil, loadreport.Flow{}, fmt.Errorf("replay: %w", err)
	}
	produced := loadreport.Flow{Count: loadreport.Count{Messages: r.acked.Load(), Bytes: r.ackedBytes.Load()}, To: time.Since(t0)}
	r.line(lt.e.stderr, "replayed")

	w.expect <- truth.Rows
	consumedAll := func() bool { return processed == nil || processed.messages.Load() >= produced.Messages }
	if err := lt.awaitFinals(ctx, w, consumedAll); err != nil {
		return nil, produced, err
	}
	return truth, produced, sleep(ctx, settle)
}

// awaitReady waits until the detector's group consumes every partition of
// the topic and the watcher reads the alerts topic.
func (lt *loadtest) awaitReady(ctx context.Context, mon *stream.Monitor, w *alertWatcher) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		err := mon.Assigned(ctx, lt.topic, lt.group)
		if err == nil {
			break
		}
		if !errors.Is(err, stream.ErrGroupNotReady) || sleep(ctx, 200*time.Millisecond) != nil {
			if !*lt.f.inProcess {
				err = fmt.Errorf("%w (is a detector running on topic %s in group %s? else use --in-process)", err, lt.topic, lt.group)
			}
			return fmt.Errorf("waiting for the detector: %w", err)
		}
	}
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting to read the alerts topic %s: %w", lt.alerts, ctx.Err())
	}
}

// awaitFinals waits until every window of the truth has closed after its
// last qualifying sign-in and consumedAll holds, or --wait passes (the
// report then shows what is missing).
func (lt *loadtest) awaitFinals(ctx context.Context, w *alertWatcher, consumedAll func() bool) error {
	deadline := time.NewTimer(*lt.f.wait)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	closed := w.closed
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			fmt.Fprintf(lt.e.stderr, "ropcwatch loadtest: still missing final alerts or processed messages after --wait %s\n", *lt.f.wait)
			return nil
		case <-closed:
			closed = nil
		case <-tick.C:
		}
		if closed == nil && consumedAll() {
			return nil
		}
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
