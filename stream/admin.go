package stream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnsureTopics creates those of topics (name → partition count) that do not
// exist, with the broker's default replication factor; a partition count
// below 1 means the broker's default too. Existing topics are left as they
// are, whatever their partition count. A topic created concurrently by
// someone else counts as success. When the broker refuses, the error names
// the topics; Event Hubs Standard cannot create topics through the Kafka
// API, so against Event Hubs the error says to create the event hub in the
// namespace.
func EnsureTopics(ctx context.Context, cfg KafkaConfig, topics map[string]int32) error {
	if len(topics) == 0 {
		return nil
	}
	cfg.Hooks = nil // short-lived clients: hooks such as kprom observe one long-lived client each
	opts, err := cfg.ClientOptions()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("ensure topics: create client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	names := slices.Sorted(maps.Keys(topics))
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return refused(cfg, names, fmt.Errorf("list topics: %w", err))
	}
	byPartitions := make(map[int32][]string)
	for _, name := range names {
		if d, ok := details[name]; ok && d.Err == nil {
			continue // exists
		}
		p := topics[name]
		if p < 1 {
			p = -1
		}
		byPartitions[p] = append(byPartitions[p], name)
	}

	var failed []string
	var errs []error
	for _, p := range slices.Sorted(maps.Keys(byPartitions)) {
		group := byPartitions[p]
		resps, err := adm.CreateTopics(ctx, p, -1, nil, group...)
		if err != nil {
			failed = append(failed, group...)
			errs = append(errs, err)
			continue
		}
		for _, name := range group {
			r, ok := resps[name]
			switch {
			case !ok:
				failed = append(failed, name)
				errs = append(errs, fmt.Errorf("topic %s: no response from broker", name))
			case r.Err == nil, errors.Is(r.Err, kerr.TopicAlreadyExists):
			case r.ErrMessage != "":
				failed = append(failed, name)
				errs = append(errs, fmt.Errorf("topic %s: %w: %s", name, r.Err, r.ErrMessage))
			default:
				failed = append(failed, name)
				errs = append(errs, fmt.Errorf("topic %s: %w", name, r.Err))
			}
		}
	}
	if len(failed) == 0 {
		return nil
	}
	slices.Sort(failed)
	return refused(cfg, failed, errors.Join(errs...))
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
