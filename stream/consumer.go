package stream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
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
	// ReadCommitted reads only records of committed transactions, as a
	// downstream consumer of exactly-once output should.
	ReadCommitted bool
	// Transactions, when set, makes the consumer a transactional session
	// (exactly once): it reads only committed records, Produce writes into
	// the open transaction, and End commits what was produced together
	// with the offsets polled, or aborts both.
	Transactions *TransactionConfig

	// extra holds options tests use to shorten group timings.
	extra []kgo.Opt
}

// TransactionConfig configures a transactional consumer.
type TransactionConfig struct {
	// ID is the transactional id: stable per instance (a restart with the
	// same id fences the previous incarnation and aborts its open
	// transaction), unique across instances.
	ID string
	// Producer sets batching, compression and partitioning; its Kafka
	// settings are ignored for the consumer's.
	Producer ProducerConfig
	// Timeout is how long the brokers let a transaction stay open before
	// aborting it; zero means 60s.
	Timeout time.Duration
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
	if t := c.Transactions; t != nil {
		if t.ID == "" {
			return errors.New("consumer: Transactions.ID is required")
		}
		p := t.Producer
		p.Kafka = c.Kafka
		if err := p.Validate(); err != nil {
			return err
		}
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
	sess    *kgo.GroupTransactSession // with Transactions only
	maxPoll int
	latest  bool // StartLatest
	// committed: the consumer reads only committed records, so a
	// partition ends at its last stable offset.
	committed bool
	// group and instance name a static member to remove on Close.
	group, instance string
}

// Batch is the result of one Poll.
type Batch struct {
	// Records are the data records, in partition order; control records
	// (transaction markers) are left out.
	Records []Record
	// Next holds, for every partition that delivered records, the offset
	// after the last one, control records included: where consumption
	// goes on. A partition whose last offsets are transaction markers is
	// caught up when Next reaches its end, though no data record says so.
	Next map[TopicPartition]int64
	// Ends holds, for every partition in the fetch that did not fail, its
	// end on the broker when fetched: the last stable offset for a
	// read_committed consumer, else the high watermark.
	Ends map[TopicPartition]int64
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
		// Transaction markers take offsets: seeing them tells Poll's
		// caller where a partition really ends (Batch.Next).
		kgo.KeepControlRecords(),
	)
	if cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(cfg.InstanceID))
	}
	if cfg.FetchMaxBytes > 0 {
		opts = append(opts, kgo.FetchMaxBytes(cfg.FetchMaxBytes))
	}
	if cfg.ReadCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	opts = append(opts, cfg.extra...)
	c := &Consumer{
		maxPoll: cfg.MaxPollRecords, latest: cfg.StartLatest, group: cfg.Group, instance: cfg.InstanceID,
		committed: cfg.ReadCommitted || cfg.Transactions != nil,
	}
	if c.maxPoll == 0 {
		c.maxPoll = defaultMaxPollRecords
	}
	if t := cfg.Transactions; t != nil {
		timeout := t.Timeout
		if timeout <= 0 {
			timeout = time.Minute
		}
		opts = append(opts, t.Producer.producerOptions()...)
		opts = append(opts,
			kgo.TransactionalID(t.ID),
			kgo.TransactionTimeout(timeout),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		)
		c.sess, err = kgo.NewGroupTransactSession(opts...)
		if err != nil {
			return nil, fmt.Errorf("create transactional kafka consumer for group %s: %w", cfg.Group, err)
		}
		c.cl = c.sess.Client()
		return c, nil
	}
	c.cl, err = kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("create kafka consumer for group %s: %w", cfg.Group, err)
	}
	return c, nil
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
	var fetches kgo.Fetches
	if c.sess != nil {
		fetches = c.sess.PollRecords(ctx, c.maxPoll)
	} else {
		fetches = c.cl.PollRecords(ctx, c.maxPoll)
	}
	if err := ctx.Err(); err != nil && fetches.NumRecords() == 0 {
		return Batch{}, err
	}
	b := Batch{Next: make(map[TopicPartition]int64), Ends: make(map[TopicPartition]int64)}
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
		tp := TopicPartition{p.Topic, p.Partition}
		if p.Err == nil {
			// A failed fetch says nothing of the end (its high watermark
			// is zero): the partition must not look caught up.
			b.Ends[tp] = p.HighWatermark
			if c.committed {
				b.Ends[tp] = p.LastStableOffset
			}
		}
		for _, r := range p.Records {
			b.Next[tp] = max(b.Next[tp], r.Offset+1)
			if !r.Attrs.IsControl() {
				b.Records = append(b.Records, fromKgo(r))
			}
		}
	})
	return b, errors.Join(errs...)
}

// AllowRebalance lets a pending rebalance proceed; call it after the
// records of the last Poll are processed (and, for revoked partitions,
// committed by the Revoked hook).
func (c *Consumer) AllowRebalance() {
	if c.sess != nil {
		c.sess.AllowRebalance()
		return
	}
	c.cl.AllowRebalance()
}

// Begin opens a transaction (transactional consumers only).
func (c *Consumer) Begin() error {
	if err := c.sess.Begin(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	return nil
}

// End commits the open transaction — the records produced in it and the
// offsets after the records polled since the previous End — or, when
// commit is false or a rebalance took partitions away meanwhile, aborts
// it and rewinds consumption to the last committed offsets. It reports
// whether the transaction committed.
func (c *Consumer) End(ctx context.Context, commit bool) (bool, error) {
	committed, err := c.sess.End(ctx, kgo.TransactionEndTry(commit))
	if err != nil {
		return committed, fmt.Errorf("end transaction: %w", err)
	}
	return committed, nil
}

// Produce writes r in the open transaction (transactional consumers only),
// as Producer.Produce does.
func (c *Consumer) Produce(ctx context.Context, r Record, done func(Record, error)) {
	produceWith(ctx, c.cl, r, done)
}

// Flush waits until every record produced so far is acknowledged.
func (c *Consumer) Flush(ctx context.Context) error {
	if err := c.cl.Flush(ctx); err != nil {
		return fmt.Errorf("flush producer: %w", err)
	}
	return nil
}

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
// the group and closes connections. A static member (InstanceID) is
// removed from the group explicitly, so that its partitions move to the
// other members at once rather than after its session timeout; a member
// killed without Close stays registered, and its restart with the same
// InstanceID resumes without a rebalance. It returns when done or when ctx
// is done.
func (c *Consumer) Close(ctx context.Context) error {
	c.cl.AllowRebalance()
	// A failed leave only delays the next rebalance by a session timeout.
	err := c.cl.LeaveGroupContext(ctx)
	if c.instance != "" {
		var resps kadm.LeaveGroupResponses
		resps, err = kadm.NewClient(c.cl).LeaveGroup(ctx, kadm.LeaveGroup(c.group).InstanceIDs(c.instance).Reason("shutting down"))
		if err == nil {
			err = resps.Error()
		}
	}
	c.cl.Close()
	if err != nil {
		return fmt.Errorf("leave group %s: %w", c.group, err)
	}
	return nil
}

// Ends returns the end of each partition as the brokers answer now: the
// last stable offset for a read_committed consumer, else the high
// watermark. A partition the brokers did not answer for is left out.
func (c *Consumer) Ends(ctx context.Context, tps []TopicPartition) (map[TopicPartition]int64, error) {
	if len(tps) == 0 {
		return nil, nil
	}
	adm := kadm.NewClient(c.cl)
	list := adm.ListEndOffsets
	if c.committed {
		list = adm.ListCommittedOffsets
	}
	return listOffsets(ctx, list, tps)
}

// Starts returns, for partitions of which no record was polled yet, where
// consumption will start: the committed offset, else the start (or, with
// StartLatest, the end) of the partition.
func (c *Consumer) Starts(ctx context.Context, tps []TopicPartition) (map[TopicPartition]int64, error) {
	if len(tps) == 0 {
		return nil, nil
	}
	adm := kadm.NewClient(c.cl)
	list := adm.ListStartOffsets
	if c.latest {
		list = adm.ListEndOffsets
		if c.committed {
			list = adm.ListCommittedOffsets
		}
	}
	out, err := listOffsets(ctx, list, tps)
	if err != nil {
		return nil, err
	}
	committed := c.cl.CommittedOffsets()
	for _, tp := range tps {
		if eo, ok := committed[tp.Topic][tp.Partition]; ok && eo.Offset >= 0 {
			out[tp] = eo.Offset
		}
	}
	return out, nil
}

// listOffsets calls list for the topics of tps and keeps the partitions of
// tps that it answered without error.
func listOffsets(ctx context.Context, list func(context.Context, ...string) (kadm.ListedOffsets, error), tps []TopicPartition) (map[TopicPartition]int64, error) {
	var topics []string
	for _, tp := range tps {
		if !slices.Contains(topics, tp.Topic) {
			topics = append(topics, tp.Topic)
		}
	}
	listed, err := list(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", strings.Join(topics, ", "), err)
	}
	out := make(map[TopicPartition]int64, len(tps))
	for _, tp := range tps {
		if o, ok := listed.Lookup(tp.Topic, tp.Partition); ok && o.Err == nil {
			out[tp] = o.Offset
		}
	}
	return out, nil
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
