package detector

import (
	"context"

	"github.com/ropcwatch/ropcwatch/stream"
)

// The service reaches Kafka only through these interfaces, so that one
// implementation talks to brokers (package stream) and another, in tests,
// is a simulated broker driven by a seeded scheduler (sim_test.go).

// groupSession is the consumer-group member of one service: it polls,
// commits and, with transactions, produces inside them. Rebalances happen
// only between a Poll and the following AllowRebalance; the hooks given
// when it was made run then.
type groupSession interface {
	Poll(ctx context.Context) (stream.Batch, error)
	AllowRebalance()
	Commit(ctx context.Context, offsets map[stream.TopicPartition]int64) error
	// Begin, End, Produce and Flush are for transactional sessions.
	Begin() error
	End(ctx context.Context, commit bool) (bool, error)
	Produce(ctx context.Context, r stream.Record, done func(stream.Record, error))
	Flush(ctx context.Context) error
	// Ends returns the end of each partition (the last stable offset with
	// transactions, else the high watermark) as the brokers answer now.
	Ends(ctx context.Context, tps []stream.TopicPartition) (map[stream.TopicPartition]int64, error)
	// Starts returns where consumption of partitions not polled yet begins:
	// the committed offset, else the start or end by the reset policy.
	Starts(ctx context.Context, tps []stream.TopicPartition) (map[stream.TopicPartition]int64, error)
	Close(ctx context.Context) error
}

// recordProducer sends records outside transactions.
type recordProducer interface {
	Produce(ctx context.Context, r stream.Record, done func(stream.Record, error))
	Flush(ctx context.Context) error
	Close()
}

// logReader reads and administers topics outside the group: restores and
// the internal topics.
type logReader interface {
	// ReadPartition calls fn for the records of tp from offset from (the
	// first retained when negative) to the end it had when called; with
	// committed, only records of committed transactions.
	ReadPartition(ctx context.Context, tp stream.TopicPartition, from int64, committed bool, fn func(stream.Record) error) error
	// ReadTail calls fn for at most the last n records of tp.
	ReadTail(ctx context.Context, tp stream.TopicPartition, n int64, committed bool, fn func(stream.Record) error) error
	// ReadAll calls fn for every retained record of topic.
	ReadAll(ctx context.Context, topic string, committed bool, fn func(stream.Record) error) error
	PartitionCounts(ctx context.Context, topics ...string) (map[string]int32, error)
	EnsureTopics(ctx context.Context, specs map[string]stream.TopicSpec) error
}

// kafka is a service's access to Kafka: how to join the group, and the
// producer and reader to use.
type kafka struct {
	// join creates the group session; hooks run inside rebalances.
	join     func(cfg stream.ConsumerConfig, hooks stream.PartitionHooks) (groupSession, error)
	producer func(cfg stream.ProducerConfig) (recordProducer, error)
	reader   logReader
	// restoreWorkers bounds the shards rebuilt at once; zero means one
	// per core.
	restoreWorkers int
}

// brokers is the kafka of a real deployment, with cfg's connection.
func brokers(cfg stream.KafkaConfig) kafka {
	return kafka{
		join: func(c stream.ConsumerConfig, h stream.PartitionHooks) (groupSession, error) {
			return stream.NewConsumer(c, h)
		},
		producer: func(c stream.ProducerConfig) (recordProducer, error) { return stream.NewProducer(c) },
		reader:   kafkaReader{cfg},
	}
}

// kafkaReader is logReader over package stream.
type kafkaReader struct{ cfg stream.KafkaConfig }

func (k kafkaReader) ReadPartition(ctx context.Context, tp stream.TopicPartition, from int64, committed bool, fn func(stream.Record) error) error {
	return stream.ReadPartition(ctx, k.cfg, tp, from, committed, fn)
}

func (k kafkaReader) ReadTail(ctx context.Context, tp stream.TopicPartition, n int64, committed bool, fn func(stream.Record) error) error {
	return stream.ReadTail(ctx, k.cfg, tp, n, committed, fn)
}

func (k kafkaReader) ReadAll(ctx context.Context, topic string, committed bool, fn func(stream.Record) error) error {
	return stream.ReadAll(ctx, k.cfg, topic, committed, fn)
}

func (k kafkaReader) PartitionCounts(ctx context.Context, topics ...string) (map[string]int32, error) {
	return stream.PartitionCounts(ctx, k.cfg, topics...)
}

func (k kafkaReader) EnsureTopics(ctx context.Context, specs map[string]stream.TopicSpec) error {
	return stream.EnsureTopicSpecs(ctx, k.cfg, specs)
}
