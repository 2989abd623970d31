package detector

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
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

// decodeProgress decodes a repartition record of the progress kind.
func decodeProgress(value []byte) (progressMarker, error) {
	var m progressMarker
	if err := json.Unmarshal(value, &m); err != nil {
		return m, fmt.Errorf("progress marker: %w", err)
	}
	for _, s := range m.Sources {
		if s.Topic == "" || s.Partition < 0 || s.Partitions <= s.Partition || s.SilentMillis < 0 {
			return m, fmt.Errorf("progress marker: invalid source %q partition %d of %d", s.Topic, s.Partition, s.Partitions)
		}
	}
	return m, nil
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
