package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffyaml"

	"github.com/ropcwatch/ropcwatch/detector"
	"github.com/ropcwatch/ropcwatch/stream"
)

// runFlags are the flags of `ropcwatch run`.
type runFlags struct {
	kafka                                                   kafkaOptions
	rules                                                   ruleOptions
	topics, group, instance, start, alerts, incidents, dead *string
	format, logFormat, metricsAddr                          *string
	lateness, idle, retention, update, offset, reload       *time.Duration
	futureSkew, shutdown                                    *time.Duration
	memoryBudget                                            *string
	inputKeyed                                              *bool
	maxMsg, maxRecord                                       *int
	config                                                  *string
	repartition, createInternal, exactlyOnce                *bool
	internalPartitions                                      *int
}

// newRunFlags defines the flags of run on a new FlagSet writing to w. The
// deployment files are checked against it (deploy_test.go).
func newRunFlags(w io.Writer) (*flag.FlagSet, *runFlags) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(w)
	return fs, &runFlags{
		kafka:              kafkaFlags(fs),
		rules:              ruleFlags(fs),
		topics:             fs.String("topic", "", "sign-in topics or event hubs to consume, `NAME,...`"),
		group:              fs.String("group", "ropcwatch", "consumer group"),
		instance:           fs.String("instance-id", "", "static group membership id, so a restarted instance rejoins without a session timeout (default: env ROPCWATCH_INSTANCE_ID)"),
		start:              fs.String("start", "earliest", "where a new group starts: earliest (nothing missed) or latest (skip the backlog)"),
		alerts:             fs.String("alerts-topic", "", "topic for alerts (required)"),
		incidents:          fs.String("incidents-topic", "", "topic for incident snapshots (optional)"),
		dead:               fs.String("dead-letter-topic", "", "topic for rejected records with the reason (recommended)"),
		format:             fs.String("format", "sentinel", "alert shape: sentinel or ocsf"),
		lateness:           fs.Duration("lateness", 5*time.Minute, "how late events may arrive and still be in a window's final alert"),
		idle:               fs.Duration("idle-timeout", time.Minute, "silence after which a partition stops holding windows open"),
		retention:          fs.Duration("retention", time.Hour, "how long a closed window is kept so late events amend its alert"),
		update:             fs.Duration("update-interval", 5*time.Minute, "least event time between two update revisions of one alert"),
		offset:             fs.Duration("window-offset", 0, "shift the hourly windows from the UTC hour"),
		maxMsg:             fs.Int("max-message-bytes", 1<<20, "reject longer messages as too-large"),
		maxRecord:          fs.Int("max-record-bytes", 0, "most bytes of any record written (alerts are cut to fit, marked Truncated); 0 means the alerts topic's max.message.bytes, at most 1000000"),
		futureSkew:         fs.Duration("max-future-skew", time.Minute, "dead-letter qualifying sign-ins dated further ahead of the wall clock than this (future-time): they open no window and move no watermark"),
		shutdown:           fs.Duration("shutdown-timeout", 30*time.Second, "most time from SIGTERM to exit: the last flush, commit and group leave, even with the brokers unreachable"),
		memoryBudget:       fs.String("memory-budget", "256MiB", "bytes of window state per process (windows, Ids, sets, incidents); past it qualifying sign-ins are dead-lettered as state-full (`SIZE`: 512MiB, 2GiB)"),
		inputKeyed:         fs.Bool("input-keyed", false, "with --repartition=false: the input is keyed by user, so each partition's windows close by its own progress: a lagging partition holds back only its own users"),
		logFormat:          fs.String("log-format", "json", "log format: json or text"),
		metricsAddr:        fs.String("metrics-addr", ":9090", "serve /metrics, /healthz and /readyz on `ADDR`; empty turns it off"),
		reload:             fs.Duration("reload-interval", 10*time.Second, "how often the rule and allowlist files are checked for changes (also on SIGHUP); 0 means SIGHUP only"),
		config:             fs.String("config", "", "YAML file of settings named as these flags (`FILE`); env ROPCWATCH_<FLAG> overrides it, a flag overrides both"),
		repartition:        fs.Bool("repartition", true, "re-key qualifying sign-ins by user through the internal topics GROUP-repartition and GROUP-state, so that instances share unkeyed input (Event Hubs) with exact per-user windows; false for input keyed by user"),
		createInternal:     fs.Bool("create-internal-topics", true, "create the internal topics when missing (Event Hubs Standard cannot: create them as event hubs)"),
		internalPartitions: fs.Int("internal-partitions", 0, "partitions of the internal topics when created (at most this many instances share the windows); 0 means as many as the largest input topic"),
		exactlyOnce:        fs.Bool("exactly-once", false, "commit alerts, internal records and offsets in Kafka transactions, so a read_committed consumer sees each alert revision once; needs --repartition, --instance-id and a broker with transactions (not Event Hubs Standard)"),
	}
}

// parseRunFlags fills the flags from, by rising precedence, the YAML file
// of --config, ROPCWATCH_* environment variables and the command line.
// Errors name the setting and the bad value.
func parseRunFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	// ff reads the process environment; the command's getenv is the one to
	// honour (tests pass their own), so environment values become flags
	// before ff parses the file and the arguments.
	var fromEnv []string
	fs.VisitAll(func(f *flag.Flag) {
		name := "ROPCWATCH_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			fromEnv = append(fromEnv, "--"+f.Name+"="+v)
		}
	})
	return ff.Parse(fs, append(fromEnv, args...), ff.WithConfigFileFlag("config"), ff.WithConfigFileParser(ffyaml.Parser))
}

// runService is `ropcwatch run`: the detector as a service, from sign-in
// topics to an alerts topic, until SIGTERM.
func runService(ctx context.Context, e env, args []string) int {
	fs, f := newRunFlags(e.stderr)
	if err := parseRunFlags(fs, args, e.getenv); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(e.stderr, "ropcwatch run: %v\n", err)
		}
		return usageError(err)
	}
	cfg, err := prepareService(ctx, e, f)
	if err != nil {
		fmt.Fprintf(e.stderr, "ropcwatch run: %v\n", err)
		return exitFailure
	}
	if err := detector.RunService(ctx, cfg); err != nil {
		cfg.Logger.Error("detector failed", "error", err)
		return exitFailure
	}
	return exitOK
}

// prepareService builds the configuration of the detector that the flags
// of run describe, with its logger, and starts what serves it: the
// configuration watcher and, with --metrics-addr, the metrics server. Both
// stop when ctx is done. Errors name the flag.
func prepareService(ctx context.Context, e env, f *runFlags) (detector.ServiceConfig, error) {
	logger, err := newLogger(e, *f.logFormat)
	if err != nil {
		return detector.ServiceConfig{}, fmt.Errorf("--log-format: %w", err)
	}
	cfg, err := serviceConfig(e, f)
	if err != nil {
		return cfg, err
	}
	cfg.Logger = logger
	if cfg.Live.MaxRecordBytes == 0 {
		cfg.Live.MaxRecordBytes = recordLimit(ctx, cfg, logger)
	}
	reloads := make(chan detector.Config)
	cfg.Reload = reloads
	go watchConfig(ctx, f.rules, cfg.ConfigVersion, *f.reload, logger, reloads)
	if *f.metricsAddr != "" {
		reg, m, consumerHook, producerHook := newRegistry()
		if err := serveOps(ctx, *f.metricsAddr, reg, m, logger); err != nil {
			return cfg, err
		}
		cfg.Metrics = m
		cfg.Consumer.Kafka.Hooks = append(cfg.Consumer.Kafka.Hooks, consumerHook)
		cfg.Producer.Kafka.Hooks = append(cfg.Producer.Kafka.Hooks, producerHook)
	}
	return cfg, nil
}

// serviceConfig builds and checks the service's configuration from the
// parsed flags; errors name the flag.
func serviceConfig(e env, f *runFlags) (detector.ServiceConfig, error) {
	var cfg detector.ServiceConfig
	kcfg, err := f.kafka.config(e.getenv)
	if err != nil {
		return cfg, err
	}
	if *f.start != "earliest" && *f.start != "latest" {
		return cfg, fmt.Errorf("--start %q: want earliest or latest", *f.start)
	}
	format, err := detector.ParseFormat(*f.format)
	if err != nil {
		return cfg, fmt.Errorf("--format: %w", err)
	}
	if *f.alerts == "" {
		return cfg, fmt.Errorf("--alerts-topic is required")
	}
	topics := f.topicList()
	if len(topics) == 0 {
		return cfg, fmt.Errorf("--topic is required")
	}
	c, err := f.rules.read(e.stderr)
	if err != nil {
		return cfg, err
	}
	instance := *f.instance
	if instance == "" {
		instance = e.getenv("ROPCWATCH_INSTANCE_ID")
	}
	if *f.internalPartitions < 0 {
		return cfg, fmt.Errorf("--internal-partitions %d: want 0 or more", *f.internalPartitions)
	}
	budget, err := units.RAMInBytes(*f.memoryBudget)
	if err != nil || budget <= 0 {
		return cfg, fmt.Errorf("--memory-budget %q: want a size such as 256MiB", *f.memoryBudget)
	}
	if *f.shutdown <= 0 {
		return cfg, fmt.Errorf("--shutdown-timeout %v: want more than 0", *f.shutdown)
	}
	if *f.futureSkew <= 0 {
		return cfg, fmt.Errorf("--max-future-skew %v: want more than 0", *f.futureSkew)
	}
	var scale *detector.ScaleConfig
	if *f.repartition {
		repartition, state := detector.ScaleTopics(*f.group)
		scale = &detector.ScaleConfig{
			RepartitionTopic: repartition, StateTopic: state,
			Partitions: int32(*f.internalPartitions), CreateTopics: *f.createInternal,
		}
	}
	switch {
	case *f.inputKeyed && *f.repartition:
		return cfg, fmt.Errorf("--input-keyed needs --repartition=false: scaled out, windows are keyed by the repartition topic")
	case *f.exactlyOnce && !*f.repartition:
		return cfg, fmt.Errorf("--exactly-once needs --repartition: window state must live in Kafka to be committed with the offsets")
	case *f.exactlyOnce && instance == "":
		return cfg, fmt.Errorf("--exactly-once needs --instance-id (or ROPCWATCH_INSTANCE_ID): a stable transactional id per instance")
	}
	return detector.ServiceConfig{
		Scale: scale, ExactlyOnce: *f.exactlyOnce, TransactionalID: *f.group + "-" + instance, ShutdownTimeout: *f.shutdown,
		Live: detector.LiveConfig{
			Rule: c.Rule, Allowlist: c.Allowlist, Lateness: *f.lateness, IdleTimeout: *f.idle, Retention: *f.retention,
			UpdateInterval: *f.update, WindowOffset: *f.offset, MaxMessageBytes: *f.maxMsg, MaxRecordBytes: *f.maxRecord,
			MaxFutureSkew: *f.futureSkew, MemoryBudget: budget, KeyedInput: *f.inputKeyed,
		},
		ConfigVersion: c.Version,
		Consumer: stream.ConsumerConfig{
			Kafka: kcfg, Topics: topics, Group: *f.group, InstanceID: instance, StartLatest: *f.start == "latest",
		},
		Producer:    stream.ProducerConfig{Kafka: kcfg, Linger: time.Millisecond},
		AlertsTopic: *f.alerts, IncidentsTopic: *f.incidents, DeadLetterTopic: *f.dead, Format: format,
	}, nil
}

// topicList returns the names --topic lists.
func (f *runFlags) topicList() []string {
	var topics []string
	for _, t := range strings.Split(*f.topics, ",") {
		if t = strings.TrimSpace(t); t != "" {
			topics = append(topics, t)
		}
	}
	return topics
}

// recordLimit is the default of --max-record-bytes: the alerts topic's
// max.message.bytes, at most detector.DefaultMaxRecordBytes (the client's
// own batch limit); the latter when the brokers do not say (Event Hubs
// may not describe configs).
func recordLimit(ctx context.Context, cfg detector.ServiceConfig, logger *slog.Logger) int {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, err := stream.MaxMessageBytes(ctx, cfg.Producer.Kafka, cfg.AlertsTopic)
	if err != nil {
		logger.Warn("alerts topic limit unknown; records are kept under the default", "error", err, "max_record_bytes", detector.DefaultMaxRecordBytes)
		return detector.DefaultMaxRecordBytes
	}
	return max(min(n, detector.DefaultMaxRecordBytes), detector.MinMaxRecordBytes)
}

func newLogger(e env, format string) (*slog.Logger, error) {
	switch format {
	case "json":
		// slog escapes as encoding/json does, leaving C1 and format
		// characters of logged values raw; the text handler quotes them.
		return slog.New(slog.NewJSONHandler(stream.SafeJSONWriter(e.stderr), nil)), nil
	case "text":
		return slog.New(slog.NewTextHandler(e.stderr, nil)), nil
	}
	return nil, fmt.Errorf("%q: want json or text", format)
}
