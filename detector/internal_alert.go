package detector

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/window"
)

// routedAlert is the first revision of an alert, from the shard of its
// window to the shard that groups its incident: what rebuilds the alert
// there, the same as where it was built.
type routedAlert struct {
	WindowStart   time.Time `json:"ws"`
	WindowEnd     time.Time `json:"we"`
	Status        Status    `json:"status"`
	Revision      int       `json:"rev"`
	TimeGenerated time.Time `json:"tg"`
	Row           Row       `json:"row"`
	Truncated     bool      `json:"truncated,omitempty"`
	Version       string    `json:"v,omitempty"`
	// Cause is the Kafka timestamp of the input record that caused it.
	Cause time.Time `json:"kt,omitzero"`
}

// incidentOf hands an alert's incident back to the shard of its window.
type incidentOf struct {
	AlertId    string    `json:"alert"`
	User       string    `json:"u"`
	WindowEnd  time.Time `json:"we"`
	IncidentId string    `json:"incident"`
}

// refusal records a sign-in a shard refused for want of memory, by its
// offset in the shard's partition, so that a rebuild refuses it again.
// Since names the history of decisions it belongs to: the offset from
// which the deciding owner decided for itself (ShardState.Histories). An
// owner that lost its work (it died before its state was written) leaves
// refusals of a history that the next one does not follow.
type refusal struct {
	Offset int64 `json:"offset"`
	Since  int64 `json:"since"`
}

func internalRecord(topic string, partition int32, kind string, key []byte, v any) stream.Record {
	value, err := json.Marshal(v)
	if err != nil { // strings, numbers and times always marshal
		panic(fmt.Sprintf("internal %s record: %v", kind, err))
	}
	return stream.Record{
		Topic: topic, Partition: partition, Key: key, Value: value,
		Headers: []stream.Header{{Key: KindHeader, Value: []byte(kind)}},
	}
}

// alertRecord carries a first revision to the shard of its incident, its
// row cut (fitRow) so that the record takes at most maxBytes.
func alertRecord(topic string, partition int32, a *Alert, b window.Bounds, cause time.Time, maxBytes int) stream.Record {
	row, cut := fitRow(a.Result, maxBytes-recordOverhead-len(a.AlertId)-len(a.ConfigVersion)-routedAlertFields)
	return internalRecord(topic, partition, KindAlert, []byte(a.AlertId), routedAlert{
		WindowStart: b.Start, WindowEnd: b.End, Status: a.Status, Revision: a.Revision, TimeGenerated: a.TimeGenerated,
		Row: row, Truncated: a.Truncated || cut, Version: a.ConfigVersion, Cause: cause,
	})
}

// routedAlertFields is room for a routedAlert's fields beside its row.
const routedAlertFields = 256

func incidentRecord(topic string, partition int32, a *Alert) stream.Record {
	return internalRecord(topic, partition, KindIncident, []byte(a.AlertId), incidentOf{
		AlertId: a.AlertId, User: a.Result.UserPrincipalName, WindowEnd: a.WindowEnd, IncidentId: a.IncidentId,
	})
}

func refusalRecord(topic string, partition int32, offset, since int64) stream.Record {
	r := internalRecord(topic, partition, KindRefusal, nil, refusal{Offset: offset, Since: since})
	r.Headers = append(r.Headers,
		stream.Header{Key: refusedHeader, Value: strconv.AppendInt(nil, offset, 10)},
		stream.Header{Key: sinceHeader, Value: strconv.AppendInt(nil, since, 10)})
	return r
}

// refusedHeader and sinceHeader carry a refusal's offset and history, so
// that a rebuild finds the refusals without decoding other records.
const (
	refusedHeader = "ropcwatch-refused"
	sinceHeader   = "ropcwatch-since"
)

func decodeRoutedAlert(value []byte) (routedAlert, error) {
	var r routedAlert
	if err := json.Unmarshal(value, &r); err != nil {
		return r, fmt.Errorf("routed alert: %w", err)
	}
	if r.WindowEnd.IsZero() || r.Revision < 1 || len(r.Row.IPs) == 0 {
		return r, errors.New("routed alert: no window, revision or row")
	}
	return r, nil
}

func decodeIncidentOf(value []byte) (incidentOf, error) {
	var r incidentOf
	if err := json.Unmarshal(value, &r); err != nil {
		return r, fmt.Errorf("incident record: %w", err)
	}
	if r.AlertId == "" || r.WindowEnd.IsZero() {
		return r, errors.New("incident record: no alert or window")
	}
	return r, nil
}

// refusedOffset returns the offset a refusal record names and the history
// it belongs to.
func refusedOffset(rec stream.Record) (offset, since int64, ok bool) {
	var got int
	for _, h := range rec.Headers {
		v, err := strconv.ParseInt(string(h.Value), 10, 64)
		switch {
		case err != nil:
		case h.Key == refusedHeader:
			offset, got = v, got+1
		case h.Key == sinceHeader:
			since, got = v, got+1
		}
	}
	return offset, since, got == 2
}
