package stream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TopicSpec describes a topic to create.
type TopicSpec struct {
	// Partitions below 1 means the broker's default.
	Partitions int32
	// Configs are topic settings such as cleanup.policy.
	Configs map[string]string
}

// EnsureTopics creates those of topics (name → partition count) that do not
// exist, with the broker's default replication factor; a partition count
// below 1 means the broker's default too. Existing topics are left as they
// are, whatever their partition count. A topic created concurrently by
// someone else counts as success. When the broker refuses, the error names
// the topics; Event Hubs Standard cannot create topics through the Kafka
// API, so against Event Hubs the error says to create the event hub in the
// namespace.
func EnsureTopics(ctx context.Context, cfg KafkaConfig, topics map[string]int32) error {
	specs := make(map[string]TopicSpec, len(topics))
	for name, p := range topics {
		specs[name] = TopicSpec{Partitions: p}
	}
	return EnsureTopicSpecs(ctx, cfg, specs)
}

// EnsureTopicSpecs is EnsureTopics with topic settings.
func EnsureTopicSpecs(ctx context.Context, cfg KafkaConfig, topics map[string]TopicSpec) error {
	if len(topics) == 0 {
		return nil
	}
	cl, err := adminClient(cfg)
	if err != nil {
		return fmt.Errorf("ensure topics: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	names := slices.Sorted(maps.Keys(topics))
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return refused(cfg, names, fmt.Errorf("list topics: %w", err))
	}
	var failed []string
	var errs []error
	for _, name := range names {
		if d, ok := details[name]; ok && d.Err == nil {
			continue // exists
		}
		spec := topics[name]
		p := spec.Partitions
		if p < 1 {
			p = -1
		}
		var configs map[string]*string
		for k, v := range spec.Configs {
			if configs == nil {
				configs = make(map[string]*string)
			}
			configs[k] = &v
		}
		r, err := adm.CreateTopic(ctx, p, -1, configs, name)
		switch {
		case err == nil, errors.Is(err, kerr.TopicAlreadyExists):
		case r.ErrMessage != "":
			failed = append(failed, name)
			errs = append(errs, fmt.Errorf("topic %s: %w: %s", name, err, r.ErrMessage))
		default:
			failed = append(failed, name)
			errs = append(errs, fmt.Errorf("topic %s: %w", name, err))
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return refused(cfg, failed, errors.Join(errs...))
}

// ValidTopicName reports a name Kafka refuses for a topic: empty, "." or
// "..", longer than 249 bytes, or with characters other than ASCII letters,
// digits, '.', '_' and '-'.
func ValidTopicName(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return fmt.Errorf("topic name %q is not allowed", name)
	case len(name) > 249:
		return fmt.Errorf("topic name %.40q... is longer than 249 bytes", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topic name %q: %q is not an ASCII letter, digit, '.', '_' or '-'", name, c)
		}
	}
	return nil
}

// PartitionCounts returns the number of partitions of each topic; a topic
// that does not exist is an error naming it.
func PartitionCounts(ctx context.Context, cfg KafkaConfig, topics ...string) (map[string]int32, error) {
	cl, err := adminClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	defer cl.Close()
	details, err := kadm.NewClient(cl).ListTopics(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list topics %s: %w", strings.Join(topics, ", "), err)
	}
	counts := make(map[string]int32, len(topics))
	for _, t := range topics {
		d, ok := details[t]
		switch {
		case !ok:
			return nil, fmt.Errorf("topic %s: not found", t)
		case d.Err != nil:
			return nil, fmt.Errorf("topic %s: %w", t, d.Err)
		}
		counts[t] = int32(len(d.Partitions))
	}
	return counts, nil
}

// refused explains what to do about topics the broker would not create.
func refused(cfg KafkaConfig, topics []string, err error) error {
	msg := "create topics " + strings.Join(topics, ", ")
	if cfg.isEventHubs() {
		msg += " (Event Hubs Standard cannot create topics through the Kafka API: create each as an event hub in the Event Hubs namespace)"
	} else {
		msg += " (create them on the cluster, or grant this principal DESCRIBE and CREATE on them)"
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// adminClient returns a client for admin requests. Hooks are left out:
// those such as kprom observe the caller's one long-lived client each.
func adminClient(cfg KafkaConfig) (*kgo.Client, error) {
	cfg.Hooks = nil
	opts, err := cfg.ClientOptions()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("create kafka admin client: %w", err)
	}
	return cl, nil
}

// MaxMessageBytes returns the max.message.bytes of topic as the brokers
// report it: the largest record batch the topic takes.
func MaxMessageBytes(ctx context.Context, cfg KafkaConfig, topic string) (int, error) {
	cl, err := adminClient(cfg)
	if err != nil {
		return 0, fmt.Errorf("describe topic %s: %w", topic, err)
	}
	defer cl.Close()
	configs, err := kadm.NewClient(cl).DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("describe topic %s: %w", topic, err)
	}
	rc, err := configs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return 0, fmt.Errorf("describe topic %s: %w", topic, err)
	}
	for _, c := range rc.Configs {
		if c.Key == "max.message.bytes" && c.Value != nil {
			n, err := strconv.Atoi(*c.Value)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("topic %s: max.message.bytes %q is not a size", topic, *c.Value)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("topic %s: no max.message.bytes", topic)
}
