package stream

import "time"

// Record is one Kafka message, as consumed or to be produced. On produce,
// Partition and Offset are ignored: the key chooses the partition (Kafka's
// murmur2 hash, so other clients agree; records without a key are spread),
// and a zero Timestamp means "now".
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp time.Time
}

// Header is one Kafka record header. Keys may repeat.
type Header struct {
	Key   string
	Value []byte
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}
