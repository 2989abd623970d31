package stream

import (
	"math/rand/v2"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
)

// KeyPartition returns the partition of n that Kafka's default partitioner
// (murmur2, as the Java client and franz-go compute it) gives key, so a
// caller that places records itself agrees with every keyed producer.
func KeyPartition(key []byte, n int) int32 {
	return int32(keyed.ForTopic("").Partition(&kgo.Record{Key: key}, n))
}

// keyed is franz-go's default partitioner; with a key it is a pure hash.
var keyed = kgo.StickyKeyPartitioner(nil)

// manualTopicsPartitioner places records of manual topics on their
// Record.Partition, and others by key (spread at random without a key).
func manualTopicsPartitioner(manual []string) kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
		if slices.Contains(manual, topic) {
			return func(r *kgo.Record, _ int) int { return int(r.Partition) }
		}
		return func(r *kgo.Record, n int) int {
			if r.Key == nil {
				return rand.IntN(n)
			}
			return int(KeyPartition(r.Key, n))
		}
	})
}
