package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Monitor watches a consumer group's progress on a topic from the outside,
// with admin requests only: it never joins the group. One client serves
// every call; it is safe for concurrent use.
type Monitor struct {
	cl  *kgo.Client
	adm *kadm.Client
}

// PartitionOffsets are one partition's offsets at one moment.
type PartitionOffsets struct {
	Start int64 // first retained offset
	End   int64 // offset after the last record (the high watermark)
	// Committed is the next offset the group will read after a restart;
	// -1 when it has committed nothing on this partition.
	Committed int64
}

// Lag is how many records the group has yet to commit past: End minus
// Committed, or minus Start when nothing is committed (a new group starts at
// the earliest retained record).
func (p PartitionOffsets) Lag() int64 {
	from := p.Committed
	if from < p.Start {
		from = p.Start
	}
	return max(0, p.End-from)
}

// TopicOffsets are the offsets of every partition of a topic, by partition.
type TopicOffsets map[int32]PartitionOffsets

// Lag sums the lag of the partitions.
func (t TopicOffsets) Lag() int64 {
	var n int64
	for _, p := range t {
		n += p.Lag()
	}
	return n
}

// End sums the end offsets of the partitions: the records the topic has
// ever held, when it started empty.
func (t TopicOffsets) End() int64 {
	var n int64
	for _, p := range t {
		n += p.End
	}
	return n
}

// Committed sums the committed offsets of the partitions, counting a
// partition without a commit as at its start.
func (t TopicOffsets) Committed() int64 {
	var n int64
	for _, p := range t {
		n += max(p.Committed, p.Start)
	}
	return n
}

// NewMonitor creates a Monitor; it connects lazily on the first call.
func NewMonitor(cfg KafkaConfig) (*Monitor, error) {
	cl, err := adminClient(cfg)
	if err != nil {
		return nil, err
	}
	return &Monitor{cl: cl, adm: kadm.NewClient(cl)}, nil
}

// Close closes the connections.
func (m *Monitor) Close() { m.cl.Close() }

// retryEvery spaces the retries of a request that failed with a retriable
// error, such as a group coordinator that a new broker is still loading.
const retryEvery = 100 * time.Millisecond

// retry calls f until it returns nil or an error that is not retriable, or
// ctx is done; it returns f's last error.
func retry(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil || !kerr.IsRetriable(err) {
			return err
		}
		t := time.NewTimer(retryEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// Offsets reads the start and end offsets of topic's partitions and, when
// group is not empty, the group's committed offsets on them. Requests that
// fail with a retriable error are retried until ctx is done.
func (m *Monitor) Offsets(ctx context.Context, topic, group string) (TopicOffsets, error) {
	var starts, ends kadm.ListedOffsets
	err := retry(ctx, func() (err error) {
		if starts, err = m.adm.ListStartOffsets(ctx, topic); err == nil {
			err = starts.Error()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list start offsets of topic %s: %w", topic, err)
	}
	err = retry(ctx, func() (err error) {
		if ends, err = m.adm.ListEndOffsets(ctx, topic); err == nil {
			err = ends.Error()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list end offsets of topic %s: %w", topic, err)
	}
	out := make(TopicOffsets)
	ends.Each(func(o kadm.ListedOffset) {
		out[o.Partition] = PartitionOffsets{End: o.Offset, Committed: -1}
	})
	starts.Each(func(o kadm.ListedOffset) {
		if p, ok := out[o.Partition]; ok {
			p.Start = o.Offset
			out[o.Partition] = p
		}
	})
	if group == "" {
		return out, nil
	}
	var commits kadm.OffsetResponses
	err = retry(ctx, func() (err error) {
		if commits, err = m.adm.FetchOffsetsForTopics(ctx, group, topic); err == nil {
			err = commits.Error()
		}
		return err
	})
	if errors.Is(err, kerr.GroupIDNotFound) {
		return out, nil // a group that never committed, to some brokers
	}
	if err != nil {
		return nil, fmt.Errorf("fetch offsets of group %s on topic %s: %w", group, topic, err)
	}
	commits.Each(func(o kadm.OffsetResponse) {
		if p, ok := out[o.Partition]; ok && o.Topic == topic && o.At >= 0 {
			p.Committed = o.At
			out[o.Partition] = p
		}
	})
	return out, nil
}

// ErrGroupNotReady says a group has no member consuming some partition of
// the topic yet.
var ErrGroupNotReady = errors.New("group not ready")

// Assigned returns nil when group is stable and its members are assigned
// every partition of topic, and an error wrapping ErrGroupNotReady,
// naming what is missing, while they are not. A request that fails with a
// retriable error (a coordinator still loading) means not ready either.
func (m *Monitor) Assigned(ctx context.Context, topic, group string) error {
	described, err := m.adm.DescribeGroups(ctx, group)
	g, ok := described[group]
	if err == nil && ok {
		err = g.Err
	}
	switch {
	case errors.Is(err, kerr.GroupIDNotFound) || (err == nil && !ok):
		return fmt.Errorf("%w: group %s is unknown to the brokers", ErrGroupNotReady, group)
	case kerr.IsRetriable(err):
		return fmt.Errorf("%w: describe group %s: %w", ErrGroupNotReady, group, err)
	case err != nil:
		return fmt.Errorf("describe group %s: %w", group, err)
	}
	if g.State != "Stable" {
		return fmt.Errorf("%w: group %s is %s with %d members", ErrGroupNotReady, group, g.State, len(g.Members))
	}
	var topics kadm.TopicDetails
	err = retry(ctx, func() (err error) {
		if topics, err = m.adm.ListTopics(ctx, topic); err == nil {
			err = topics.Error()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("describe topic %s: %w", topic, err)
	}
	assigned := g.AssignedPartitions()[topic]
	if want := len(topics[topic].Partitions); len(assigned) < want {
		return fmt.Errorf("%w: group %s consumes %d of the %d partitions of topic %s", ErrGroupNotReady, group, len(assigned), want, topic)
	}
	return nil
}
