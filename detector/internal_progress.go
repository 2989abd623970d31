package detector

import (
	"errors"
	"fmt"
	"time"

	"github.com/tidwall/gjson"

	"github.com/ropcwatch/ropcwatch/stream"
)

// progressMarker tells a shard how far a Router's input partitions got.
type progressMarker struct {
	// Topics are the input topics: progress of others, from an earlier
	// configuration, is forgotten.
	Topics  []string         `json:"topics"`
	Sources []sourceProgress `json:"sources"`
}

// sourceProgress is the event-time progress of one input partition.
type sourceProgress struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Partitions is the number of partitions of Topic: a shard waits for
	// progress from all of them.
	Partitions int32 `json:"partitions"`
	// Event is the latest event time read from the partition.
	Event time.Time `json:"event,omitzero"`
	// SilentMillis is the wall time since its latest record.
	SilentMillis int64 `json:"silent_ms"`
	// CaughtUp says the partition had no more records on the broker.
	CaughtUp bool `json:"caught_up"`
	// Reported is, in a shard, the Kafka timestamp of the latest marker
	// that reported the partition (not part of a marker).
	Reported time.Time `json:"reported,omitzero"`
}

func (p sourceProgress) tp() stream.TopicPartition {
	return stream.TopicPartition{Topic: p.Topic, Partition: p.Partition}
}

func (p sourceProgress) silent() time.Duration {
	return time.Duration(p.SilentMillis) * time.Millisecond
}

// decodeProgress decodes a repartition record of the progress kind. It is
// on the path of every rebuild, where markers are most of the records, so
// it reads the fields with gjson rather than by reflection.
func decodeProgress(value []byte) (progressMarker, error) {
	var m progressMarker
	if !gjson.ValidBytes(value) {
		return m, errors.New("progress marker: invalid JSON")
	}
	root := gjson.ParseBytes(value)
	if !root.IsObject() {
		return m, errors.New("progress marker: not an object")
	}
	var err error
	var topics, sources gjson.Result
	root.ForEach(func(key, value gjson.Result) bool {
		switch key.Str {
		case "topics":
			topics = value
		case "sources":
			sources = value
		}
		return true
	})
	topics.ForEach(func(_, t gjson.Result) bool {
		if t.Type != gjson.String {
			err = fmt.Errorf("progress marker: topic %s is not a string", t.Raw)
			return false
		}
		m.Topics = append(m.Topics, t.Str)
		return true
	})
	sources.ForEach(func(_, v gjson.Result) bool {
		var p sourceProgress
		if p, err = decodeSource(v); err != nil {
			return false
		}
		m.Sources = append(m.Sources, p)
		return true
	})
	return m, err
}

// decodeSource decodes one entry of a marker's sources, in one pass over
// its fields.
func decodeSource(v gjson.Result) (sourceProgress, error) {
	var p sourceProgress
	var topic, partition, partitions, event, silent, caughtUp gjson.Result
	v.ForEach(func(key, value gjson.Result) bool {
		switch key.Str {
		case "topic":
			topic = value
		case "partition":
			partition = value
		case "partitions":
			partitions = value
		case "event":
			event = value
		case "silent_ms":
			silent = value
		case "caught_up":
			caughtUp = value
		}
		return true
	})
	p = sourceProgress{
		Topic: topic.Str, Partition: int32(partition.Int()), Partitions: int32(partitions.Int()),
		SilentMillis: silent.Int(), CaughtUp: caughtUp.Type == gjson.True,
	}
	switch {
	case topic.Type != gjson.String || partition.Type != gjson.Number || partitions.Type != gjson.Number || silent.Type != gjson.Number,
		caughtUp.Exists() && caughtUp.Type != gjson.True && caughtUp.Type != gjson.False,
		p.Topic == "" || p.Partition < 0 || p.Partitions <= p.Partition || p.SilentMillis < 0,
		float64(p.Partition) != partition.Num || float64(p.Partitions) != partitions.Num:
		return p, fmt.Errorf("progress marker: invalid source %s", v.Raw)
	}
	if event.Exists() {
		t, err := time.Parse(time.RFC3339Nano, event.Str)
		if event.Type != gjson.String || err != nil {
			return p, fmt.Errorf("progress marker: invalid event time %s", event.Raw)
		}
		p.Event = t
	}
	return p, nil
}
