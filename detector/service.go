package detector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
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
	// ShutdownTimeout bounds the final flush and commit, and every wait on
	// the brokers (a flush before a commit, a restore); zero means 30s.
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
	// MarkerInterval is the most time between two rounds of progress
	// markers when nothing but event time changed (catching up or going
	// idle is reported at once); zero means 1s. Markers only close
	// windows: early alerts never wait for them.
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
		scale.MarkerInterval = time.Second
		c.Scale = &scale
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Live.Now == nil {
		c.Live.Now = time.Now
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

// service is one running detector. The poll loop owns it (step); the
// rebalance hooks take mu to flush and commit between two polls, and the
// committer delivers commits the loop queued. Everything it does to Kafka
// goes through kafka, and every time it reads is cfg.Live.Now, so that a
// simulated broker and clock can drive it step by step.
type service struct {
	cfg      ServiceConfig
	log      *slog.Logger
	kafka    kafka
	producer recordProducer // nil with ExactlyOnce: the session produces
	session  groupSession
	ctx      context.Context // of the run, for produce calls from hooks
	// hard ends every wait on the brokers: cancelled once a shutdown has
	// run out of time, so that nothing blocks past it.
	hard     context.Context
	stopHard context.CancelFunc
	// broken is set by the first failure: nothing is committed after it.
	broken atomic.Bool
	// endsCh carries partition ends listed in the background (refreshEnds).
	endsCh chan listedEnds

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

	errOnce  sync.Once
	failed   chan error // the first produce or commit failure; the loop stops on it
	firstErr error      // that failure, once broken is set

	lastEndsLog time.Time
}

// commit is what a delivery makes durable: state records, then offsets.
type commit struct {
	offsets map[stream.TopicPartition]int64
	states  []stream.Record
	// flushed, when set, is called once everything produced before the
	// commit was taken is acknowledged (from the committer's goroutine).
	flushed func()
}

// pipeline is the detector a service drives: an Engine (engine.go) or a
// Router with its Shards (scaled.go).
type pipeline interface {
	// base is the configuration, emitter and counts.
	base() *shared
	// process evaluates a polled batch, adding its output to out. An error
	// means records could not be evaluated: nothing may be committed.
	process(batch stream.Batch, out *Output) error
	// tick does what the wall clock alone causes.
	tick(out *Output)
	// commit returns the offsets that may be committed and the state
	// records to make durable first, of the partitions in only when given.
	commit(only []stream.TopicPartition) commit
	// assign takes partitions over, adding what that emits to out.
	assign(ctx context.Context, tps []stream.TopicPartition, out *Output) error
	revoke(tps []stream.TopicPartition)
	// inputs are the input partitions read, and those of them not read
	// from yet; listed records what the brokers said of them.
	inputs() (all, unpositioned []stream.TopicPartition)
	listed(l listedEnds)
	observe(m *Metrics)
}

// listedEnds is one answer of the brokers on where partitions end, and
// where reading those not read from yet starts.
type listedEnds struct {
	ends, starts map[stream.TopicPartition]int64
	at           time.Time
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
	s, err := newService(ctx, cfg, brokers(cfg.Producer.Kafka))
	if err != nil {
		return err
	}
	committer := make(chan struct{})
	go func() {
		defer close(committer)
		for c := range s.commits {
			s.deliverQueued(ctx, c)
		}
	}()
	listing, stopListing := context.WithCancel(ctx)
	lister := make(chan struct{})
	go func() {
		defer close(lister)
		for t := time.NewTicker(endsEvery); ; {
			select {
			case <-listing.Done():
				t.Stop()
				return
			case <-t.C:
				s.refreshEnds(listing)
			}
		}
	}()
	var runErr error
	for runErr == nil && ctx.Err() == nil {
		runErr = s.step(ctx)
	}
	stopListing()
	<-lister
	// From now on the shutdown timeout runs: after it nothing waits on the
	// brokers any more.
	deadline := time.AfterFunc(s.cfg.ShutdownTimeout, s.stopHard)
	defer deadline.Stop()
	close(s.commits)
	<-committer
	return s.stop(ctx, runErr)
}

// newService builds a service on k and joins the group; cfg must be valid.
func newService(ctx context.Context, cfg ServiceConfig, k kafka) (*service, error) {
	cfg = cfg.withDefaults()
	if cfg.Scale != nil {
		cfg.Producer.ManualTopics = append(slices.Clone(cfg.Producer.ManualTopics), cfg.Scale.RepartitionTopic, cfg.Scale.StateTopic)
	}
	s := &service{
		cfg: cfg, log: cfg.Logger, ctx: ctx, kafka: k,
		committed: make(map[stream.TopicPartition]int64), revokedTP: make(map[stream.TopicPartition]bool),
		commits: make(chan commit, 1), failed: make(chan error, 1), endsCh: make(chan listedEnds, 1),
	}
	s.hard, s.stopHard = context.WithCancel(context.WithoutCancel(ctx))
	var err error
	if cfg.Scale != nil {
		s.pipe, err = newScaled(ctx, s)
	} else {
		s.pipe, err = newEngine(cfg.Live)
	}
	if err != nil {
		s.stopHard()
		return nil, err
	}
	s.pipe.base().SetVersion(cfg.ConfigVersion)
	consumer := cfg.Consumer
	if cfg.Scale != nil {
		consumer.Topics = append(slices.Clone(consumer.Topics), cfg.Scale.RepartitionTopic)
	}
	if cfg.ExactlyOnce {
		consumer.Transactions = &stream.TransactionConfig{ID: cfg.TransactionalID, Producer: cfg.Producer}
	} else {
		s.producer, err = k.producer(cfg.Producer)
		if err != nil {
			return nil, err
		}
	}
	if cfg.DeadLetterTopic == "" {
		s.log.Warn("no dead-letter topic: rejected records are counted and logged, not kept")
	}
	if err := s.restoreIncidents(ctx); err != nil {
		// Detection matters more than incident ids: run on, and say so.
		s.log.Warn("incidents not restored; alerts replayed after this restart may name new incidents", "error", err)
	}
	s.session, err = k.join(consumer, stream.PartitionHooks{Assigned: s.assigned, Revoked: s.revoked})
	if err != nil {
		if s.producer != nil {
			s.producer.Close()
		}
		return nil, err
	}
	s.log.Info("detector started", "topics", cfg.Consumer.Topics, "group", cfg.Consumer.Group, "alerts_topic", cfg.AlertsTopic,
		"scaled_out", cfg.Scale != nil, "exactly_once", cfg.ExactlyOnce)
	return s, nil
}

// stop ends a run that step ended with runErr (nil when ctx was done):
// without transactions a clean stop delivers a last commit; an open
// transaction is aborted after a failure. It then leaves the group, all
// within the shutdown timeout, and returns runErr or the last commit's
// failure.
func (s *service) stop(ctx context.Context, runErr error) error {
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	switch {
	case s.cfg.ExactlyOnce && runErr != nil:
		// A transaction left open would hold back every read_committed
		// reader until the brokers time it out.
		if _, err := s.session.End(shutdown, false); err != nil {
			s.log.Warn("open transaction not aborted; the brokers abort it after the transaction timeout", "error", err)
		}
	case runErr == nil && !s.cfg.ExactlyOnce:
		s.mu.Lock()
		runErr = s.deliver(shutdown, s.pipe.commit(nil))
		s.mu.Unlock()
	}
	s.cfg.Metrics.SetReady(false)
	if err := s.session.Close(shutdown); err != nil {
		s.log.Warn("group not left; the partitions move after the session timeout", "error", err)
	}
	if s.producer != nil {
		s.producer.Close()
	}
	s.stopHard()
	st := s.pipe.base().Stats()
	s.log.Info("detector stopped", "messages", st.Messages, "qualifying", st.Verdicts[Match], "rejected", st.RejectedTotal(), "error", runErr)
	return runErr
}

func (s *service) now() time.Time { return s.cfg.Live.Now() }
