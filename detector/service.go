package detector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
)

// ServiceConfig configures `ropcwatch run`: the engine between a consumer
// of sign-in topics and a producer of alerts.
type ServiceConfig struct {
	Live     LiveConfig
	Consumer stream.ConsumerConfig
	Producer stream.ProducerConfig
	// AlertsTopic receives every alert revision (required).
	AlertsTopic string
	// IncidentsTopic receives an incident snapshot whenever an alert joins
	// one; empty means incidents are only named in alerts.
	IncidentsTopic string
	// DeadLetterTopic receives rejected records with the reason; empty
	// means they are counted and logged (without payload) only.
	DeadLetterTopic string
	Format          Format
	// CommitInterval is how often offsets are committed; zero means 1s.
	CommitInterval time.Duration
	// TickInterval is how often the wall clock is checked for idle
	// partitions when no record arrives; zero means 250ms.
	TickInterval time.Duration
	// ShutdownTimeout bounds the final flush and commit; zero means 30s.
	ShutdownTimeout time.Duration
	// FailAfter is how long polls may keep failing (brokers unreachable,
	// authorization refused) before the service gives up with the error;
	// zero means 5m.
	FailAfter time.Duration
	Logger    *slog.Logger
	// OnBatch, when set, is called after each polled batch is processed,
	// with the running counts (for progress reporting and benchmarks).
	OnBatch func(*Stats)
	// Metrics, when set, is kept up to date (see NewMetrics).
	Metrics *Metrics
	// ConfigVersion names the configuration in Live, recorded in alerts.
	ConfigVersion string
	// Reload delivers new configurations (rule allowlists, network
	// allowlist) to apply between two polls without losing window state;
	// one that cannot apply is logged and the previous one kept.
	Reload <-chan Config
	// Scale, when set, runs the detector as a Router and Shards over an
	// internal repartition topic, so that per-user windows stay exact
	// across instances when the input is not keyed by user. Nil runs one
	// Engine over the input: right for input keyed by user.
	Scale *ScaleConfig
	// ExactlyOnce commits alerts, incidents, dead letters, internal records
	// and consumed offsets in one Kafka transaction per batch; it needs
	// Scale and a TransactionalID, and brokers with transactions (not
	// Event Hubs Standard).
	ExactlyOnce     bool
	TransactionalID string
}

// ScaleConfig names the internal topics of a scaled-out detector.
type ScaleConfig struct {
	// RepartitionTopic carries qualifying sign-ins keyed by user and
	// progress markers; StateTopic (compacted) what rebuilds a shard.
	RepartitionTopic, StateTopic string
	// Partitions of both internal topics when they are created; zero
	// means the largest partition count of the input topics. It bounds
	// the number of instances that share the windows.
	Partitions int32
	// CreateTopics creates the internal topics when missing; without it
	// they must exist (Event Hubs Standard cannot create them).
	CreateTopics bool
	// MarkerInterval is how often progress markers are sent; zero means
	// 100ms.
	MarkerInterval time.Duration
}

// ScaleTopics returns the internal topic names of a consumer group; the
// group must make valid topic names (stream.ValidTopicName).
func ScaleTopics(group string) (repartition, state string) {
	return group + "-repartition", group + "-state"
}

func (c ServiceConfig) withDefaults() ServiceConfig {
	if c.CommitInterval <= 0 {
		c.CommitInterval = time.Second
	}
	if c.TickInterval <= 0 {
		c.TickInterval = 250 * time.Millisecond
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.FailAfter <= 0 {
		c.FailAfter = 5 * time.Minute
	}
	if c.Format == "" {
		c.Format = FormatSentinel
	}
	if c.Scale != nil && c.Scale.MarkerInterval <= 0 {
		scale := *c.Scale
		scale.MarkerInterval = 100 * time.Millisecond
		c.Scale = &scale
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports a configuration that cannot run, naming the setting.
func (c ServiceConfig) Validate() error {
	if c.AlertsTopic == "" {
		return errors.New("run: the alerts topic is required")
	}
	if err := c.Live.Validate(); err != nil {
		return err
	}
	if err := c.Consumer.Validate(); err != nil {
		return err
	}
	if sc := c.Scale; sc != nil {
		for _, name := range []string{sc.RepartitionTopic, sc.StateTopic} {
			if err := stream.ValidTopicName(name); err != nil {
				return fmt.Errorf("run: internal topic: %w", err)
			}
		}
	}
	if c.ExactlyOnce && (c.Scale == nil || c.TransactionalID == "") {
		return errors.New("run: exactly once needs the repartition step and a transactional id (the instance id)")
	}
	return c.Producer.Validate()
}

// service is one running detector. The poll loop owns it; the rebalance
// hooks take mu to flush and commit between two polls.
type service struct {
	cfg      ServiceConfig
	log      *slog.Logger
	producer *stream.Producer // nil with ExactlyOnce: the consumer produces
	consumer *stream.Consumer
	ctx      context.Context // of the run, for produce calls from hooks

	erring     time.Time // since when polls fail; zero while they do not
	lastErrLog time.Time

	mu         sync.Mutex
	pipe       pipeline
	out        Output
	lastCommit time.Time

	// commits carries offset snapshots from the poll loop to the committer
	// goroutine, so the loop never waits on a flush or a commit round trip.
	commits chan commit
	// cmu serialises deliveries; committed and revoked are guarded by it.
	cmu       sync.Mutex
	committed map[stream.TopicPartition]int64
	revokedTP map[stream.TopicPartition]bool

	errOnce sync.Once
	failed  chan error // the first produce or commit failure; the loop stops on it
}

// commit is what a delivery makes durable: state records, then offsets.
type commit struct {
	offsets map[stream.TopicPartition]int64
	states  []stream.Record
}

// pipeline is the detector a service drives: an Engine (engine.go) or a
// Router with its Shards (scaled.go).
type pipeline interface {
	// base is the configuration, emitter and counts.
	base() *shared
	// process evaluates a polled batch, adding its output to out.
	process(batch stream.Batch, out *Output)
	// tick does what the wall clock alone causes.
	tick(out *Output)
	// commit returns the offsets that may be committed and the state
	// records to make durable first, of the partitions in only when given.
	commit(only []stream.TopicPartition) commit
	assign(ctx context.Context, tps []stream.TopicPartition) error
	revoke(tps []stream.TopicPartition)
	observe(m *Metrics)
}

// RunService consumes sign-ins and produces alerts until ctx is done, then
// flushes, commits and leaves the group within the shutdown timeout. It
// returns nil after a clean shutdown.
//
// Delivery is at least once: offsets are committed only after every alert
// and dead letter they led to is acknowledged by the brokers, and never
// past a record whose effect lives only in window state (scaled out, the
// state records that rebuild the shards are acknowledged first). After a crash the
// records since the last commit are replayed, re-creating the same alert
// revisions (duplicates that differ only in ProcessedAt). With ExactlyOnce,
// output and offsets commit in one transaction: a read_committed consumer
// sees each revision once.
func RunService(ctx context.Context, cfg ServiceConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	if cfg.Scale != nil {
		cfg.Producer.ManualTopics = append(slices.Clone(cfg.Producer.ManualTopics), cfg.Scale.RepartitionTopic, cfg.Scale.StateTopic)
	}
	s := &service{
		cfg: cfg, log: cfg.Logger, ctx: ctx,
		committed: make(map[stream.TopicPartition]int64), revokedTP: make(map[stream.TopicPartition]bool),
		commits: make(chan commit, 1), failed: make(chan error, 1),
	}
	var err error
	if cfg.Scale != nil {
		s.pipe, err = newScaled(ctx, s)
	} else {
		s.pipe, err = newEngine(cfg.Live)
	}
	if err != nil {
		return err
	}
	s.pipe.base().SetVersion(cfg.ConfigVersion)
	consumer := cfg.Consumer
	if cfg.Scale != nil {
		consumer.Topics = append(slices.Clone(consumer.Topics), cfg.Scale.RepartitionTopic)
	}
	if cfg.ExactlyOnce {
		consumer.Transactions = &stream.TransactionConfig{ID: cfg.TransactionalID, Producer: cfg.Producer}
	} else {
		s.producer, err = stream.NewProducer(cfg.Producer)
		if err != nil {
			return err
		}
		defer s.producer.Close()
	}
	if cfg.DeadLetterTopic == "" {
		s.log.Warn("no dead-letter topic: rejected records are counted and logged, not kept")
	}
	if err := s.restoreIncidents(ctx); err != nil {
		// Detection matters more than incident ids: run on, and say so.
		s.log.Warn("incidents not restored; alerts replayed after this restart may name new incidents", "error", err)
	}
	s.consumer, err = stream.NewConsumer(consumer, stream.PartitionHooks{Assigned: s.assigned, Revoked: s.revoked})
	if err != nil {
		return err
	}
	s.log.Info("detector started", "topics", cfg.Consumer.Topics, "group", cfg.Consumer.Group, "alerts_topic", cfg.AlertsTopic,
		"scaled_out", cfg.Scale != nil, "exactly_once", cfg.ExactlyOnce)
	committer := make(chan struct{})
	go func() {
		defer close(committer)
		for c := range s.commits {
			if err := s.deliver(context.WithoutCancel(ctx), c); err != nil {
				s.fail(err)
			}
		}
	}()
	runErr := s.loop(ctx)
	close(s.commits)
	<-committer
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	switch {
	case cfg.ExactlyOnce && runErr != nil:
		// A transaction left open would hold back every read_committed
		// reader until the brokers time it out.
		if _, err := s.consumer.End(shutdown, false); err != nil {
			s.log.Warn("open transaction not aborted; the brokers abort it after the transaction timeout", "error", err)
		}
	case runErr == nil && !cfg.ExactlyOnce:
		s.mu.Lock()
		runErr = s.deliver(shutdown, s.pipe.commit(nil))
		s.mu.Unlock()
	}
	cfg.Metrics.SetReady(false)
	if err := s.consumer.Close(shutdown); err != nil {
		s.log.Warn("group not left; the partitions move after the session timeout", "error", err)
	}
	st := s.pipe.base().Stats()
	s.log.Info("detector stopped", "messages", st.Messages, "qualifying", st.Verdicts[Match], "rejected", st.RejectedTotal(), "error", runErr)
	return runErr
}

// restoreIncidents reads the incidents topic back, so that alerts replayed
// after a restart keep their incidents (SPEC section 6: a replay re-creates
// the same revisions, IncidentId included).
func (s *service) restoreIncidents(ctx context.Context) error {
	if s.cfg.IncidentsTopic == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
	defer cancel()
	incidents := s.pipe.base().emit.Incidents()
	n := 0
	err := stream.ReadAll(ctx, s.cfg.Producer.Kafka, s.cfg.IncidentsTopic, func(r stream.Record) error {
		var inc Incident
		if err := json.Unmarshal(r.Value, &inc); err != nil {
			s.log.Warn("incident record skipped", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "error", err)
			return nil
		}
		if inc.RuleId == s.cfg.Live.Rule.ID {
			incidents.Restore(inc)
			n++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore incidents: %w", err)
	}
	s.log.Info("incidents restored", "topic", s.cfg.IncidentsTopic, "snapshots", n)
	return nil
}

func (s *service) loop(ctx context.Context) error {
	for {
		select {
		case err := <-s.failed:
			return err
		default:
		}
		if s.cfg.ExactlyOnce {
			if err := s.consumer.Begin(); err != nil {
				return err
			}
		}
		pollCtx, cancel := context.WithTimeout(ctx, s.cfg.TickInterval)
		batch, err := s.consumer.Poll(pollCtx)
		cancel()
		if ctx.Err() != nil {
			if s.cfg.ExactlyOnce {
				// The batch is not processed: abort, so that its offsets
				// are not committed.
				_, err := s.consumer.End(context.WithoutCancel(ctx), false)
				return err
			}
			return nil
		}
		if err := s.consumeError(err); err != nil {
			return err
		}
		s.mu.Lock()
		s.reconfigure()
		s.pipe.process(batch, &s.out)
		s.pipe.tick(&s.out)
		s.publish(ctx)
		s.pipe.observe(s.cfg.Metrics)
		if s.cfg.OnBatch != nil && len(batch.Records) > 0 {
			s.cfg.OnBatch(s.pipe.base().Stats())
		}
		var endErr error
		if s.cfg.ExactlyOnce {
			endErr = s.endTransaction(ctx, batch)
		} else if time.Since(s.lastCommit) >= s.cfg.CommitInterval {
			s.lastCommit = time.Now()
			s.queueCommit(s.pipe.commit(nil))
		}
		s.mu.Unlock()
		s.consumer.AllowRebalance()
		if endErr != nil {
			return endErr
		}
	}
}

// consumeError decides on a poll error: the client retries on its own
// (a broker restarting, a coordinator moving), so errors are logged and
// the service runs on, not ready, until they persist for FailAfter.
func (s *service) consumeError(err error) error {
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		if !s.erring.IsZero() {
			s.log.Info("consuming again", "after", time.Since(s.erring).Round(time.Millisecond))
			s.erring = time.Time{}
			s.cfg.Metrics.SetReady(true)
		}
		return nil
	}
	now := time.Now()
	if s.erring.IsZero() {
		s.erring = now
		s.cfg.Metrics.SetReady(false)
	}
	if now.Sub(s.erring) >= s.cfg.FailAfter {
		return fmt.Errorf("consume: failing for %s: %w", now.Sub(s.erring).Round(time.Second), err)
	}
	if now.Sub(s.lastErrLog) >= 5*time.Second {
		s.lastErrLog = now
		s.log.Warn("consume failing; retrying", "for", now.Sub(s.erring).Round(time.Millisecond), "error", err)
	}
	return nil
}

// endTransaction writes the state records and commits the transaction;
// when it aborts instead (partitions were lost meanwhile), the shards are
// rebuilt from what was committed, as consumption rewinds to it. Callers
// hold mu.
func (s *service) endTransaction(ctx context.Context, batch stream.Batch) error {
	// Shutting down must not cut a commit in half: it gets the shutdown
	// timeout of its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	for _, r := range s.pipe.commit(nil).states {
		s.produce(ctx, r)
	}
	committed, err := s.consumer.End(ctx, true)
	if err != nil {
		return err
	}
	if !committed {
		s.log.Warn("transaction aborted (partitions lost or fenced); rebuilding from the last commit", "records", len(batch.Records))
		return s.pipe.(*scaled).rebuild(ctx)
	}
	return nil
}

// reconfigure applies a pending configuration, if any. Callers hold mu.
func (s *service) reconfigure() {
	select {
	case c := <-s.cfg.Reload:
		if err := s.pipe.base().Reconfigure(c); err != nil {
			s.log.Error("configuration not applied; keeping the previous one", "version", c.Version, "error", err)
			return
		}
		s.log.Info("configuration applied", "version", c.Version, "legit_apps", len(c.Rule.LegitApps), "legit_users", len(c.Rule.LegitUsers), "network_entries", c.Allowlist.Len())
	default:
	}
}

// queueCommit hands a commit to the committer, replacing one it has not
// taken yet (a newer one covers it).
func (s *service) queueCommit(c commit) {
	select {
	case <-s.commits:
	default:
	}
	s.commits <- c
}

// produce sends r, in the open transaction with ExactlyOnce. Shutting down
// does not cancel what is in flight: the final flush, bounded by the
// shutdown timeout, delivers it.
func (s *service) produce(ctx context.Context, r stream.Record) {
	ctx = context.WithoutCancel(ctx)
	if s.cfg.ExactlyOnce {
		s.consumer.Produce(ctx, r, s.acked)
		return
	}
	s.producer.Produce(ctx, r, s.acked)
}

func (s *service) flush(ctx context.Context) error {
	if s.cfg.ExactlyOnce {
		return s.consumer.Flush(ctx)
	}
	return s.producer.Flush(ctx)
}

// publish produces the pending output asynchronously; commit waits for it.
func (s *service) publish(ctx context.Context) {
	defer s.out.Reset()
	for i := range s.out.Alerts {
		a := &s.out.Alerts[i]
		value, err := a.Marshal(s.cfg.Format)
		if err != nil {
			s.fail(fmt.Errorf("render alert %s revision %d: %w", a.AlertId, a.Revision, err))
			return
		}
		rec := stream.Record{Topic: s.cfg.AlertsTopic, Key: a.Key(), Value: value}
		for _, h := range a.Headers(s.cfg.Format) {
			rec.Headers = append(rec.Headers, stream.Header{Key: h[0], Value: []byte(h[1])})
		}
		s.produce(ctx, rec)
		s.cfg.Metrics.alert(a, s.out.Causes[i], time.Now())
	}
	if s.cfg.IncidentsTopic != "" {
		for _, inc := range s.out.Incidents {
			value, err := json.Marshal(inc)
			if err != nil {
				s.fail(fmt.Errorf("render incident %s: %w", inc.IncidentId, err))
				return
			}
			s.produce(ctx, stream.Record{Topic: s.cfg.IncidentsTopic, Key: []byte(inc.IncidentId), Value: value})
		}
	}
	for _, dl := range s.out.DeadLetters {
		if s.cfg.DeadLetterTopic == "" {
			s.log.Warn("record rejected", "reason", dl.Reason, "topic", dl.Source, "partition", dl.Partition, "offset", dl.Position)
			continue
		}
		s.produce(ctx, stream.DeadLetterRecord(s.cfg.DeadLetterTopic, dl))
	}
}

// acked records the first produce failure; the loop then stops without
// committing, so a restart replays and produces again.
func (s *service) acked(r stream.Record, err error) {
	if err != nil {
		s.fail(fmt.Errorf("produce to %s: %w", r.Topic, err))
	}
}

func (s *service) fail(err error) {
	s.errOnce.Do(func() { s.failed <- err })
}

// deliver writes the state records, waits until everything produced so far
// is acknowledged, then commits offsets, skipping revoked partitions and
// offsets not beyond what is committed (a commit never goes back).
func (s *service) deliver(ctx context.Context, c commit) error {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	for _, r := range c.states {
		s.produce(ctx, r)
	}
	if err := s.flush(ctx); err != nil {
		return fmt.Errorf("flush before commit: %w", err)
	}
	select {
	case err := <-s.failed:
		s.failed <- err
		return err
	default:
	}
	offsets := c.offsets
	for tp, off := range offsets {
		if cur, ok := s.committed[tp]; s.revokedTP[tp] || (ok && off <= cur) {
			delete(offsets, tp)
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	if err := s.consumer.Commit(ctx, offsets); err != nil {
		// Output is delivered; the offsets go with the next commit. A
		// crash meanwhile replays a little more.
		s.log.Warn("offsets not committed; retrying with the next commit", "error", err)
		return nil
	}
	for tp, off := range offsets {
		s.committed[tp] = off
	}
	return nil
}

func (s *service) assigned(ctx context.Context, topic string, partitions []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tps := topicPartitions(topic, partitions)
	if err := s.pipe.assign(ctx, tps); err != nil {
		s.fail(fmt.Errorf("take over topic %s partitions %v: %w", topic, partitions, err))
		return
	}
	s.cfg.Metrics.SetReady(true)
	s.cmu.Lock()
	for _, tp := range tps {
		delete(s.revokedTP, tp)
	}
	s.cmu.Unlock()
	s.log.Info("partitions assigned", "topic", topic, "partitions", partitions)
}

// revoked finishes the work of partitions taken away: their output is
// flushed and their offsets committed before the next owner reads them
// (with ExactlyOnce the transaction of the last batch did that).
func (s *service) revoked(ctx context.Context, topic string, partitions []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tps := topicPartitions(topic, partitions)
	if !s.cfg.ExactlyOnce {
		s.publish(ctx)
		if err := s.deliver(ctx, s.pipe.commit(tps)); err != nil {
			s.log.Warn("commit on revoke failed; the next owner replays from the previous commit", "topic", topic, "error", err)
		}
	}
	s.pipe.revoke(tps)
	s.cfg.Metrics.forget(tps)
	s.cmu.Lock()
	for _, tp := range tps {
		delete(s.committed, tp)
		s.revokedTP[tp] = true
	}
	s.cmu.Unlock()
	s.log.Info("partitions revoked", "topic", topic, "partitions", partitions)
}

func topicPartitions(topic string, partitions []int32) []stream.TopicPartition {
	tps := make([]stream.TopicPartition, len(partitions))
	for i, p := range partitions {
		tps[i] = stream.TopicPartition{Topic: topic, Partition: p}
	}
	return tps
}

// only keeps the offsets of the partitions in tps; all when tps is nil.
func only(offsets map[stream.TopicPartition]int64, tps []stream.TopicPartition) map[stream.TopicPartition]int64 {
	if tps == nil {
		return offsets
	}
	keep := make(map[stream.TopicPartition]int64, len(tps))
	for _, tp := range tps {
		if off, ok := offsets[tp]; ok {
			keep[tp] = off
		}
	}
	return keep
}
