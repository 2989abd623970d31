package detector

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/tidwall/gjson"
)

// The records of a scaled-out detector's internal topics. The repartition
// topic carries two kinds, told apart by the KindHeader: a qualifying
// sign-in re-keyed by user, and a progress marker from a Router. The state
// topic carries one ShardState per shard (compacted, keyed by partition).
// They are JSON: small, rare next to the input, and readable when an
// operator inspects a topic.

// KindHeader names the kind of a repartition record.
const KindHeader = "ropcwatch-kind"

// Kinds of repartition records.
const (
	KindSignIn   = "sign-in"
	KindProgress = "progress"
)

// Reject reason of an internal record that does not decode (a foreign
// producer on an internal topic, or a version mismatch).
const ReasonInvalidInternal = "invalid-internal-record"

// routedSignIn is one qualifying sign-in on the repartition topic, with
// the position of the message it came from: the order of sign-ins with the
// same TimeGenerated and user, and the dead-letter source.
type routedSignIn struct {
	Time     time.Time `json:"t"`
	User     string    `json:"u"`
	Protocol string    `json:"protocol,omitempty"`
	Result   string    `json:"result,omitempty"`
	App      string    `json:"app,omitempty"`
	IP       string    `json:"ip,omitempty"`
	Location string    `json:"loc,omitempty"`
	Id       string    `json:"id,omitempty"`
	// Source topic, partition and offset of the message, the index of the
	// sign-in within it, and the message's Kafka timestamp.
	Topic     string    `json:"st"`
	Partition int32     `json:"sp"`
	Offset    int64     `json:"so"`
	Index     int       `json:"si"`
	Produced  time.Time `json:"kt,omitzero"`
	// Version of the configuration that evaluated it.
	Version string `json:"v,omitempty"`
}

func (r *routedSignIn) signIn() SignIn {
	return SignIn{
		TimeGenerated: r.Time, AuthenticationProtocol: r.Protocol, ResultType: r.Result,
		AppDisplayName: r.App, UserPrincipalName: r.User, IPAddress: r.IP, Location: r.Location, Id: r.Id,
	}
}

func routed(s *SignIn, rec stream.Record, index int, version string) routedSignIn {
	return routedSignIn{
		Time: s.TimeGenerated.UTC(), User: s.UserPrincipalName, Protocol: s.AuthenticationProtocol,
		Result: s.ResultType, App: s.AppDisplayName, IP: s.IPAddress, Location: s.Location, Id: s.Id,
		Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Index: index, Produced: rec.Timestamp, Version: version,
	}
}

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
}

func (p sourceProgress) tp() stream.TopicPartition {
	return stream.TopicPartition{Topic: p.Topic, Partition: p.Partition}
}

func (p sourceProgress) silent() time.Duration {
	return time.Duration(p.SilentMillis) * time.Millisecond
}

// ShardState is what a shard's next owner needs to rebuild it: replaying
// the shard's partition from From with Sources and Watermark as they were
// there re-creates the state at Through, the offset after the last record
// whose output is delivered.
type ShardState struct {
	Partition int32            `json:"partition"`
	Through   int64            `json:"through"`
	From      int64            `json:"from"`
	Sources   []sourceProgress `json:"sources"`
	Watermark time.Time        `json:"watermark,omitzero"`
}

// decodeRouted decodes a repartition record of the sign-in kind.
func decodeRouted(value []byte) (routedSignIn, error) {
	var r routedSignIn
	if err := json.Unmarshal(value, &r); err != nil {
		return r, fmt.Errorf("routed sign-in: %w", err)
	}
	switch {
	case r.User == "":
		return r, errors.New("routed sign-in: no user")
	case r.Time.IsZero():
		return r, errors.New("routed sign-in: no time")
	}
	return r, nil
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

// DecodeShardState decodes a state-topic record.
func DecodeShardState(value []byte) (ShardState, error) {
	var st ShardState
	if err := json.Unmarshal(value, &st); err != nil {
		return st, fmt.Errorf("shard state: %w", err)
	}
	if st.From < 0 || st.Through < st.From {
		return st, fmt.Errorf("shard state: offsets from %d through %d are not in order", st.From, st.Through)
	}
	return st, nil
}

func kindOf(rec stream.Record) string {
	for _, h := range rec.Headers {
		if h.Key == KindHeader {
			return string(h.Value)
		}
	}
	return ""
}
