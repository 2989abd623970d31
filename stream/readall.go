package stream

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadAll reads a topic from its first retained record up to the end it had
// when ReadAll started, outside any consumer group, and calls fn for each
// record in partition order. With committed, only records of committed
// transactions are read. It is for restoring small state topics.
func ReadAll(ctx context.Context, cfg KafkaConfig, topic string, committed bool, fn func(Record) error) error {
	return read(ctx, cfg, topic, nil, committed, fn)
}

// ReadTail reads at most the last n offsets of one partition (records and
// transaction markers alike take offsets, so fewer than n records may come),
// outside any consumer group: what a restore needs of a state topic,
// whatever the partition's history.
func ReadTail(ctx context.Context, cfg KafkaConfig, tp TopicPartition, n int64, committed bool, fn func(Record) error) error {
	return read(ctx, cfg, tp.Topic, map[int32]int64{tp.Partition: -1 - n}, committed, fn)
}

// ReadPartition reads one partition from offset from (the first retained
// record when from is negative) up to the end it had when ReadPartition
// started, outside any consumer group. With committed, only records of
// committed transactions are read, up to the last stable offset.
func ReadPartition(ctx context.Context, cfg KafkaConfig, tp TopicPartition, from int64, committed bool, fn func(Record) error) error {
	return read(ctx, cfg, tp.Topic, map[int32]int64{tp.Partition: max(from, -1)}, committed, fn)
}

// read reads the partitions of topic in from (every partition from its
// start when from is nil) up to their end offsets. A start of -1 means the
// first retained record; -1-n means n offsets before the end.
func read(ctx context.Context, cfg KafkaConfig, topic string, from map[int32]int64, committed bool, fn func(Record) error) error {
	admin, err := adminClient(cfg)
	if err != nil {
		return fmt.Errorf("read topic %s: %w", topic, err)
	}
	list := kadm.NewClient(admin).ListEndOffsets
	if committed {
		list = kadm.NewClient(admin).ListCommittedOffsets // the last stable offset
	}
	ends, err := list(ctx, topic)
	admin.Close()
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("read topic %s: list end offsets: %w", topic, err)
	}
	want := map[int32]int64{}
	start := map[string]map[int32]kgo.Offset{topic: {}}
	ends.Each(func(o kadm.ListedOffset) {
		at, ok := from[o.Partition]
		if from != nil && !ok {
			return
		}
		if at < -1 && ok {
			at = max(o.Offset+1+at, -1) // n before the end; earlier than the start means the start
		}
		if o.Offset > max(at, 0) {
			want[o.Partition] = o.Offset
			start[topic][o.Partition] = kgo.NewOffset().AtStart()
			if at >= 0 && ok {
				start[topic][o.Partition] = kgo.NewOffset().At(at)
			}
		}
	})
	if len(want) == 0 {
		return nil
	}
	cfg.Hooks = nil // a short-lived client: hooks such as kprom observe the caller's one
	opts, err := cfg.ClientOptions()
	if err != nil {
		return err
	}
	// Control records (transaction markers) take offsets too: keeping them
	// tells when the end is reached even if the last offsets are markers.
	opts = append(opts, kgo.ConsumePartitions(start), kgo.KeepControlRecords())
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("read topic %s: %w", topic, err)
	}
	defer cl.Close()
	for len(want) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read topic %s: %w", topic, err)
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			ferr = fmt.Errorf("read topic %s partition %d: %w", t, p, err)
		})
		if ferr != nil {
			return ferr
		}
		for it := fetches.RecordIter(); !it.Done(); {
			r := it.Next()
			end, ok := want[r.Partition]
			if !ok || r.Offset >= end {
				continue
			}
			if !r.Attrs.IsControl() {
				if err := fn(fromKgo(r)); err != nil {
					return err
				}
			}
			if r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		}
	}
	return nil
}
