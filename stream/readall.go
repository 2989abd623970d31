package stream

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadAll reads a topic from its first retained record up to the end it had
// when ReadAll started, outside any consumer group, and calls fn for each
// record in partition order. It is for restoring small state topics.
func ReadAll(ctx context.Context, cfg KafkaConfig, topic string, fn func(Record) error) error {
	cfg.Hooks = nil // short-lived clients: hooks such as kprom observe one long-lived client each
	opts, err := cfg.ClientOptions()
	if err != nil {
		return err
	}
	admin, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("read topic %s: %w", topic, err)
	}
	ends, err := kadm.NewClient(admin).ListEndOffsets(ctx, topic)
	admin.Close()
	if err != nil {
		return fmt.Errorf("read topic %s: list end offsets: %w", topic, err)
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("read topic %s: list end offsets: %w", topic, err)
	}
	want := map[int32]int64{}
	start := map[string]map[int32]kgo.Offset{topic: {}}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
			start[topic][o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(want) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(opts, kgo.ConsumePartitions(start))...)
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
			if err := fn(fromKgo(r)); err != nil {
				return err
			}
			if r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		}
	}
	return nil
}
