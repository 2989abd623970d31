package detector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	Logger          *slog.Logger
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
	if c.Format == "" {
		c.Format = FormatSentinel
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
	return c.Producer.Validate()
}

// service is one running detector. The poll loop owns it; the rebalance
// hooks take mu to flush and commit between two polls.
type service struct {
	cfg      ServiceConfig
	log      *slog.Logger
	producer *stream.Producer
	consumer *stream.Consumer

	mu         sync.Mutex
	engine     *Engine
	out        Output
	lastCommit time.Time

	// commits carries offset snapshots from the poll loop to the committer
	// goroutine, so the loop never waits on a flush or a commit round trip.
	commits chan map[stream.TopicPartition]int64
	// cmu serialises deliveries; committed and revoked are guarded by it.
	cmu       sync.Mutex
	committed map[stream.TopicPartition]int64
	revokedTP map[stream.TopicPartition]bool

	errOnce sync.Once
	failed  chan error // the first produce or commit failure; the loop stops on it
}

// RunService consumes sign-ins and produces alerts until ctx is done, then
// flushes, commits and leaves the group within the shutdown timeout. It
// returns nil after a clean shutdown.
//
// Delivery is at least once: offsets are committed only after every alert
// and dead letter they led to is acknowledged by the brokers, and never
// past a record whose effect lives only in window state. After a crash the
// records since the last commit are replayed, re-creating the same alert
// revisions (duplicates that differ only in ProcessedAt).
func RunService(ctx context.Context, cfg ServiceConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	engine, err := NewEngine(cfg.Live)
	if err != nil {
		return err
	}
	engine.SetVersion(cfg.ConfigVersion)
	producer, err := stream.NewProducer(cfg.Producer)
	if err != nil {
		return err
	}
	defer producer.Close()
	s := &service{
		cfg: cfg, log: cfg.Logger, producer: producer, engine: engine,
		committed: make(map[stream.TopicPartition]int64), revokedTP: make(map[stream.TopicPartition]bool),
		commits: make(chan map[stream.TopicPartition]int64, 1), failed: make(chan error, 1),
	}
	if cfg.DeadLetterTopic == "" {
		s.log.Warn("no dead-letter topic: rejected records are counted and logged, not kept")
	}
	if err := s.restoreIncidents(ctx); err != nil {
		// Detection matters more than incident ids: run on, and say so.
		s.log.Warn("incidents not restored; alerts replayed after this restart may name new incidents", "error", err)
	}
	s.consumer, err = stream.NewConsumer(cfg.Consumer, stream.PartitionHooks{Assigned: s.assigned, Revoked: s.revoked})
	if err != nil {
		return err
	}
	s.log.Info("detector started", "topics", cfg.Consumer.Topics, "group", cfg.Consumer.Group, "alerts_topic", cfg.AlertsTopic)
	committer := make(chan struct{})
	go func() {
		defer close(committer)
		for offsets := range s.commits {
			if err := s.deliver(context.WithoutCancel(ctx), offsets); err != nil {
				s.fail(err)
			}
		}
	}()
	runErr := s.loop(ctx)
	close(s.commits)
	<-committer
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if runErr == nil {
		s.mu.Lock()
		runErr = s.deliver(shutdown, s.snapshot(nil))
		s.mu.Unlock()
	}
	cfg.Metrics.SetReady(false)
	s.consumer.Close(shutdown)
	st := engine.Stats()
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
	incidents := s.engine.emit.Incidents()
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
		pollCtx, cancel := context.WithTimeout(ctx, s.cfg.TickInterval)
		batch, err := s.consumer.Poll(pollCtx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("consume: %w", err)
		}
		s.mu.Lock()
		s.reconfigure()
		s.engine.IngestBatch(batch.Records, &s.out)
		s.engine.Tick(&s.out)
		s.publish(ctx)
		s.cfg.Metrics.observe(s.engine)
		if s.cfg.OnBatch != nil && len(batch.Records) > 0 {
			s.cfg.OnBatch(s.engine.Stats())
		}
		if time.Since(s.lastCommit) >= s.cfg.CommitInterval {
			s.lastCommit = time.Now()
			s.queueCommit(s.snapshot(nil))
		}
		s.mu.Unlock()
		s.consumer.AllowRebalance()
	}
}

// reconfigure applies a pending configuration, if any. Callers hold mu.
func (s *service) reconfigure() {
	select {
	case c := <-s.cfg.Reload:
		if err := s.engine.Reconfigure(c); err != nil {
			s.log.Error("configuration not applied; keeping the previous one", "version", c.Version, "error", err)
			return
		}
		s.log.Info("configuration applied", "version", c.Version, "legit_apps", len(c.Rule.LegitApps), "legit_users", len(c.Rule.LegitUsers), "network_entries", c.Allowlist.Len())
	default:
	}
}

// queueCommit hands offsets to the committer, replacing a snapshot it has
// not taken yet (a newer one covers it).
func (s *service) queueCommit(offsets map[stream.TopicPartition]int64) {
	select {
	case <-s.commits:
	default:
	}
	s.commits <- offsets
}

// publish produces the pending output asynchronously; commit waits for it.
// Shutting down does not cancel what is in flight: the final flush, bounded
// by the shutdown timeout, delivers it.
func (s *service) publish(ctx context.Context) {
	defer s.out.Reset()
	ctx = context.WithoutCancel(ctx)
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
		s.producer.Produce(ctx, rec, s.acked)
		s.cfg.Metrics.alert(a, s.out.Causes[i], time.Now())
	}
	if s.cfg.IncidentsTopic != "" {
		for _, inc := range s.out.Incidents {
			value, err := json.Marshal(inc)
			if err != nil {
				s.fail(fmt.Errorf("render incident %s: %w", inc.IncidentId, err))
				return
			}
			s.producer.Produce(ctx, stream.Record{Topic: s.cfg.IncidentsTopic, Key: []byte(inc.IncidentId), Value: value}, s.acked)
		}
	}
	for _, dl := range s.out.DeadLetters {
		if s.cfg.DeadLetterTopic == "" {
			s.log.Warn("record rejected", "reason", dl.Reason, "topic", dl.Source, "partition", dl.Partition, "offset", dl.Position)
			continue
		}
		s.producer.Produce(ctx, stream.DeadLetterRecord(s.cfg.DeadLetterTopic, dl), s.acked)
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

// snapshot returns the engine's committable offsets, of the partitions in
// only when given. Callers hold mu, and publish first: the snapshot may
// only cover records whose output is already handed to the producer.
func (s *service) snapshot(only []stream.TopicPartition) map[stream.TopicPartition]int64 {
	offsets := s.engine.Committable()
	if only == nil {
		return offsets
	}
	keep := make(map[stream.TopicPartition]int64, len(only))
	for _, tp := range only {
		if off, ok := offsets[tp]; ok {
			keep[tp] = off
		}
	}
	return keep
}

// deliver waits until everything produced so far is acknowledged, then
// commits offsets, skipping revoked partitions and offsets not beyond what
// is committed (a commit never goes back).
func (s *service) deliver(ctx context.Context, offsets map[stream.TopicPartition]int64) error {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if err := s.producer.Flush(ctx); err != nil {
		return fmt.Errorf("flush before commit: %w", err)
	}
	select {
	case err := <-s.failed:
		s.failed <- err
		return err
	default:
	}
	for tp, off := range offsets {
		if cur, ok := s.committed[tp]; s.revokedTP[tp] || (ok && off <= cur) {
			delete(offsets, tp)
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	if err := s.consumer.Commit(ctx, offsets); err != nil {
		return fmt.Errorf("commit offsets: %w", err)
	}
	for tp, off := range offsets {
		s.committed[tp] = off
	}
	return nil
}

func (s *service) assigned(_ context.Context, topic string, partitions []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tps := topicPartitions(topic, partitions)
	s.engine.Assign(tps...)
	s.cfg.Metrics.SetReady(true)
	s.cmu.Lock()
	for _, tp := range tps {
		delete(s.revokedTP, tp)
	}
	s.cmu.Unlock()
	s.log.Info("partitions assigned", "topic", topic, "partitions", partitions)
}

// revoked finishes the work of partitions taken away: their output is
// flushed and their offsets committed before the next owner reads them.
func (s *service) revoked(ctx context.Context, topic string, partitions []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tps := topicPartitions(topic, partitions)
	s.publish(ctx)
	if err := s.deliver(ctx, s.snapshot(tps)); err != nil {
		s.log.Warn("commit on revoke failed; the next owner replays from the previous commit", "topic", topic, "error", err)
	}
	s.engine.Revoke(tps...)
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
