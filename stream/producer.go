package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ProducerConfig configures a Producer.
type ProducerConfig struct {
	Kafka KafkaConfig
	// Linger is how long a partition's batch waits for more records; zero
	// means 5ms.
	Linger time.Duration
	// MaxBufferedRecords bounds records produced but not yet acknowledged;
	// Produce blocks when it is reached. Zero means the franz-go default
	// (10,000).
	MaxBufferedRecords int
	// MaxBufferedBytes bounds the bytes of those records too; zero means
	// no bound beyond MaxBufferedRecords.
	MaxBufferedBytes int
	// Compression is "lz4", "gzip" or "none". Empty means lz4, except gzip
	// against Event Hubs, whose Kafka endpoint supports only gzip.
	Compression string
	// ManualPartitions writes each record to its Record.Partition instead
	// of choosing by key (replays and tests that place records).
	ManualPartitions bool
	// ManualTopics lists topics whose records go to their Record.Partition
	// while records to other topics are placed by key (internal topics
	// whose partitions the caller chooses, next to keyed output).
	ManualTopics []string
}

// Validate reports the first problem with c, naming the setting.
func (c ProducerConfig) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	if c.Linger < 0 {
		return fmt.Errorf("producer: Linger %s is negative", c.Linger)
	}
	if c.MaxBufferedRecords < 0 || c.MaxBufferedBytes < 0 {
		return fmt.Errorf("producer: MaxBufferedRecords %d or MaxBufferedBytes %d is negative", c.MaxBufferedRecords, c.MaxBufferedBytes)
	}
	if _, err := c.codec(); err != nil {
		return err
	}
	return nil
}

func (c ProducerConfig) codec() (kgo.CompressionCodec, error) {
	switch c.Compression {
	case "":
		if c.Kafka.isEventHubs() {
			return kgo.GzipCompression(), nil
		}
		return kgo.Lz4Compression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "none":
		return kgo.NoCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("producer: Compression %q is not one of lz4, gzip, none", c.Compression)
}

// Producer writes records with the idempotent producer and acks from all
// in-sync replicas, so a retried batch is never duplicated or reordered
// within a partition. It is safe for concurrent use.
type Producer struct {
	cl *kgo.Client
}

// NewProducer creates a Producer; it connects lazily on the first record.
func NewProducer(cfg ProducerConfig) (*Producer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts, err := cfg.Kafka.ClientOptions()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, cfg.producerOptions()...)...)
	if err != nil {
		return nil, fmt.Errorf("create kafka producer: %w", err)
	}
	return &Producer{cl: cl}, nil
}

// producerOptions are the franz-go options of a valid c beyond the
// connection: acknowledgements, batching, compression and partitioning.
func (c ProducerConfig) producerOptions() []kgo.Opt {
	codec, _ := c.codec() // validated
	linger := c.Linger
	if linger == 0 {
		linger = 5 * time.Millisecond
	}
	// Idempotence is franz-go's default and requires acks=all.
	opts := []kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(linger),
	}
	if c.MaxBufferedRecords > 0 {
		opts = append(opts, kgo.MaxBufferedRecords(c.MaxBufferedRecords))
	}
	if c.MaxBufferedBytes > 0 {
		opts = append(opts, kgo.MaxBufferedBytes(c.MaxBufferedBytes))
	}
	switch {
	case c.ManualPartitions:
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	case len(c.ManualTopics) > 0:
		opts = append(opts, kgo.RecordPartitioner(manualTopicsPartitioner(c.ManualTopics)))
	}
	return opts
}

// Produce sends r asynchronously. done, when not nil, is called exactly once,
// possibly from another goroutine, with the record as written (partition and
// offset set) or the error. Produce blocks while MaxBufferedRecords are in
// flight, until ctx is done.
func (p *Producer) Produce(ctx context.Context, r Record, done func(Record, error)) {
	produceWith(ctx, p.cl, r, done)
}

func produceWith(ctx context.Context, cl *kgo.Client, r Record, done func(Record, error)) {
	cl.Produce(ctx, toKgo(r), func(kr *kgo.Record, err error) {
		if done == nil {
			return
		}
		if err != nil {
			done(r, fmt.Errorf("produce to topic %s: %w", r.Topic, err))
			return
		}
		done(fromKgo(kr), nil)
	})
}

// ProduceSync sends rs and waits until all are acknowledged or failed; the
// error joins every failure.
func (p *Producer) ProduceSync(ctx context.Context, rs ...Record) error {
	krs := make([]*kgo.Record, len(rs))
	for i, r := range rs {
		krs[i] = toKgo(r)
	}
	var errs []error
	for _, res := range p.cl.ProduceSync(ctx, krs...) {
		if res.Err != nil {
			errs = append(errs, fmt.Errorf("produce to topic %s: %w", res.Record.Topic, res.Err))
		}
	}
	return errors.Join(errs...)
}

// Flush waits until every record produced so far is acknowledged or failed
// (their done callbacks have run), or ctx is done.
func (p *Producer) Flush(ctx context.Context) error {
	if err := p.cl.Flush(ctx); err != nil {
		return fmt.Errorf("flush producer: %w", err)
	}
	return nil
}

// Close closes the connections. Records not yet flushed fail with an error
// in their done callbacks; call Flush first.
func (p *Producer) Close() { p.cl.Close() }

// Client returns the underlying franz-go client, for metrics hooks.
func (p *Producer) Client() *kgo.Client { return p.cl }

func toKgo(r Record) *kgo.Record {
	kr := &kgo.Record{Topic: r.Topic, Partition: r.Partition, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
	if len(r.Headers) > 0 {
		kr.Headers = make([]kgo.RecordHeader, len(r.Headers))
		for i, h := range r.Headers {
			kr.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	return kr
}
