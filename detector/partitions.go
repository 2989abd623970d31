package detector

import (
	"cmp"
	"slices"

	"github.com/ropcwatch/ropcwatch/stream"
)

// compareTP orders partitions by topic, then partition.
func compareTP(a, b stream.TopicPartition) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// sortedKeys returns the partitions of m in order.
func sortedKeys[V any](m map[stream.TopicPartition]V) []stream.TopicPartition {
	tps := make([]stream.TopicPartition, 0, len(m))
	for tp := range m {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, compareTP)
	return tps
}
