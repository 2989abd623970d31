package detector

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
)

// The records of a scaled-out detector's internal topics. The repartition
// topic carries five kinds, told apart by the KindHeader: a qualifying
// sign-in re-keyed by user and a progress marker, from Routers; an alert's
// first revision, from the shard of its window to the shard that groups
// its incident, and that alert's incident, handed back; and a shard's
// record of a sign-in it refused for want of memory. The state topic
// carries ShardStates (compacted, keyed by partition). They are JSON:
// small, rare next to the input, and readable when an operator inspects a
// topic.

// KindHeader names the kind of a repartition record.
const KindHeader = "ropcwatch-kind"

// Kinds of repartition records.
const (
	KindSignIn   = "sign-in"
	KindProgress = "progress"
	KindAlert    = "alert"
	KindIncident = "incident"
	KindRefusal  = "refusal"
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

// decodeRouted decodes a repartition record of the sign-in kind.
func decodeRouted(value []byte) (routedSignIn, error) {
	var r routedSignIn
	if err := json.Unmarshal(value, &r); err != nil {
		return r, fmt.Errorf("routed sign-in: %w", err)
	}
	// An empty user is a user (SPEC section 2.7: "" is a key).
	if r.Time.IsZero() {
		return r, errors.New("routed sign-in: no time")
	}
	return r, nil
}

func kindOf(rec stream.Record) string {
	for _, h := range rec.Headers {
		if h.Key == KindHeader {
			return string(h.Value)
		}
	}
	return ""
}
