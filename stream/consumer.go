package stream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ConsumerConfig configures a group consumer.
type ConsumerConfig struct {
	Kafka  KafkaConfig
	Topics []string
	Group  string
	// InstanceID turns on static membership: a restarted member with the
	// same ID gets its partitions back without waiting for the session
	// timeout, and Close does not leave the group. Use a stable per-replica
	// name such as the pod name of a StatefulSet. Empty means dynamic
	// membership.
	InstanceID string
	// StartLatest makes a group with no committed offsets start at the end
	// of each partition; the default is the earliest retained offset, so a
	// first deployment does not miss the backlog.
	StartLatest bool
	// FetchMaxBytes caps the bytes of one fetch response; zero means the
	// franz-go default (50 MiB).
	FetchMaxBytes int32
	// MaxPollRecords caps the records one Poll returns, so that a slow
	// batch does not delay what follows it; zero means 1000.
	MaxPollRecords int

	// extra holds options tests use to shorten group timings.
	extra []kgo.Opt
}

// defaultMaxPollRecords bounds a Poll: about 5 MB of sign-in envelopes,
// scanned in a few milliseconds.
const defaultMaxPollRecords = 1000

// Validate reports the first problem with c, naming the setting.
func (c ConsumerConfig) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	if len(c.Topics) == 0 || slices.Contains(c.Topics, "") {
		return errors.New("consumer: Topics must list at least one topic and no empty names")
	}
	if c.Group == "" {
		return errors.New("consumer: Group is required")
	}
	if c.MaxPollRecords < 0 {
		return fmt.Errorf("consumer: MaxPollRecords %d is negative", c.MaxPollRecords)
	}
	if c.FetchMaxBytes < 0 {
		return fmt.Errorf("consumer: FetchMaxBytes %d is negative", c.FetchMaxBytes)
	}
	return nil
}

// PartitionHooks are called as the group assigns and takes away partitions.
// Both run inside the rebalance: while they run no Poll returns, so Revoked
// is where the caller finishes in-flight work for those partitions and
// commits it. Revoked is also called when partitions are lost (session
// expired, fenced); commits then usually fail, and the next owner
// reprocesses from the last commit. Either may be nil. Partitions are sorted.
type PartitionHooks struct {
	Assigned func(ctx context.Context, topic string, partitions []int32)
	Revoked  func(ctx context.Context, topic string, partitions []int32)
}

// Consumer reads records as a member of a consumer group with the
// cooperative-sticky balancer and manual commits. Rebalances happen only
// between a Poll and the following AllowRebalance, so records returned by
// Poll stay owned until AllowRebalance is called. One goroutine owns a
// Consumer's poll loop; Commit may also be called from the hooks.
type Consumer struct {
	cl      *kgo.Client
	maxPoll int
}

// Batch is the result of one Poll.
type Batch struct {
	Records []Record
	// HighWatermarks holds, for every partition in the fetch, the offset
	// after the last record on the broker: a partition whose last record
	// offset + 1 equals its high watermark is caught up.
	HighWatermarks map[TopicPartition]int64
}

// NewConsumer creates the consumer and starts joining the group; it does
// not wait for the join.
func NewConsumer(cfg ConsumerConfig, hooks PartitionHooks) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts, err := cfg.Kafka.ClientOptions()
	if err != nil {
		return nil, err
	}
	start := kgo.NewOffset().AtStart()
	if cfg.StartLatest {
		start = kgo.NewOffset().AtEnd()
	}
	opts = append(opts,
		kgo.ConsumeTopics(cfg.Topics...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(start),
		kgo.OnPartitionsAssigned(eachTopic(hooks.Assigned)),
		kgo.OnPartitionsRevoked(eachTopic(hooks.Revoked)),
		kgo.OnPartitionsLost(eachTopic(hooks.Revoked)),
	)
	if cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(cfg.InstanceID))
	}
	if cfg.FetchMaxBytes > 0 {
		opts = append(opts, kgo.FetchMaxBytes(cfg.FetchMaxBytes))
	}
	opts = append(opts, cfg.extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("create kafka consumer for group %s: %w", cfg.Group, err)
	}
	maxPoll := cfg.MaxPollRecords
	if maxPoll == 0 {
		maxPoll = defaultMaxPollRecords
	}
	return &Consumer{cl: cl, maxPoll: maxPoll}, nil
}

// eachTopic adapts a per-topic hook to franz-go's per-assignment callback.
func eachTopic(hook func(context.Context, string, []int32)) func(context.Context, *kgo.Client, map[string][]int32) {
	return func(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
		if hook == nil {
			return
		}
		for _, topic := range slices.Sorted(maps.Keys(m)) {
			if ps := m[topic]; len(ps) > 0 {
				slices.Sort(ps)
				hook(ctx, topic, ps)
			}
		}
	}
}

// Poll waits for records and returns them in partition order. When ctx is
// done it returns ctx.Err() unwrapped. Other failures (a partition that
// cannot be fetched, authorization, a closed consumer) come back wrapped,
// joined, naming the partition; records fetched from healthy partitions
// are returned alongside and are valid. After processing a Batch with
// records, call AllowRebalance.
func (c *Consumer) Poll(ctx context.Context) (Batch, error) {
	fetches := c.cl.PollRecords(ctx, c.maxPoll)
	if err := ctx.Err(); err != nil && fetches.NumRecords() == 0 {
		return Batch{}, err
	}
	b := Batch{HighWatermarks: make(map[TopicPartition]int64)}
	var errs []error
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if p.Err != nil {
			switch {
			case errors.Is(p.Err, context.Canceled), errors.Is(p.Err, context.DeadlineExceeded):
			case errors.Is(p.Err, kgo.ErrClientClosed):
				errs = append(errs, fmt.Errorf("poll: %w", p.Err))
			default:
				errs = append(errs, fmt.Errorf("fetch topic %s partition %d: %w", p.Topic, p.Partition, p.Err))
			}
		}
		if p.Topic == "" { // an injected error, not a partition
			return
		}
		b.HighWatermarks[TopicPartition{p.Topic, p.Partition}] = p.HighWatermark
		for _, r := range p.Records {
			b.Records = append(b.Records, fromKgo(r))
		}
	})
	return b, errors.Join(errs...)
}

// AllowRebalance lets a pending rebalance proceed; call it after the
// records of the last Poll are processed (and, for revoked partitions,
// committed by the Revoked hook).
func (c *Consumer) AllowRebalance() { c.cl.AllowRebalance() }

// Commit synchronously commits, for each partition, the offset of the next
// record to consume (last processed offset + 1). It is safe to call from
// the Revoked hook.
func (c *Consumer) Commit(ctx context.Context, offsets map[TopicPartition]int64) error {
	if len(offsets) == 0 {
		return nil
	}
	req := make(map[string]map[int32]kgo.EpochOffset)
	for tp, off := range offsets {
		if req[tp.Topic] == nil {
			req[tp.Topic] = make(map[int32]kgo.EpochOffset)
		}
		req[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
	}
	var commitErr error
	c.cl.CommitOffsetsSync(ctx, req, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			commitErr = fmt.Errorf("commit offsets: %w", err)
			return
		}
		var errs []error
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					errs = append(errs, fmt.Errorf("commit offset for topic %s partition %d: %w", t.Topic, p.Partition, err))
				}
			}
		}
		commitErr = errors.Join(errs...)
	})
	return commitErr
}

// Close allows a final rebalance (so Revoked runs and can commit), leaves
// the group — with static membership the member stays registered until its
// session times out, so a restart with the same InstanceID resumes at once —
// and closes connections. It returns when done or when ctx is done.
func (c *Consumer) Close(ctx context.Context) {
	c.cl.AllowRebalance()
	_ = c.cl.LeaveGroupContext(ctx) // a failed leave only delays the next rebalance by a session timeout
	c.cl.Close()
}

// Client returns the underlying franz-go client, for metrics hooks and
// admin calls. Do not poll or commit through it.
func (c *Consumer) Client() *kgo.Client { return c.cl }

func fromKgo(r *kgo.Record) Record {
	rec := Record{
		Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
		Key: r.Key, Value: r.Value, Timestamp: r.Timestamp,
	}
	if len(r.Headers) > 0 {
		rec.Headers = make([]Header, len(r.Headers))
		for i, h := range r.Headers {
			rec.Headers[i] = Header{Key: h.Key, Value: h.Value}
		}
	}
	return rec
}
