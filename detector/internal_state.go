package detector

import (
	"encoding/json"
	"fmt"
	"time"
)

// ShardState is what a shard's next owner needs to rebuild it: replaying
// the shard's partition from From, with Sources and Watermark as they were
// there, re-creates the windows at Through, the offset after the
// last record whose output is delivered; Incidents is the grouping of the
// incidents the partition owns, as it is at Through.
type ShardState struct {
	Partition int32            `json:"partition"`
	Through   int64            `json:"through"`
	From      int64            `json:"from"`
	Sources   []sourceProgress `json:"sources"`
	Watermark time.Time        `json:"watermark,omitzero"`
	// Refusals counts the sign-ins in [From, Through) refused for want of
	// memory; a rebuild refuses them again, and applies every other.
	// Histories are the offsets from which the owners whose decisions the
	// state holds decided for themselves, ascending: each owner's from its
	// own to the next. A rebuild follows the refusals of those alone.
	Refusals  int            `json:"refusals,omitempty"`
	Histories []int64        `json:"histories,omitempty"`
	Incidents *incidentState `json:"incidents,omitempty"`
}

// DecodeShardState decodes a state-topic record.
func DecodeShardState(value []byte) (ShardState, error) {
	var st ShardState
	if err := json.Unmarshal(value, &st); err != nil {
		return st, fmt.Errorf("shard state: %w", err)
	}
	if st.From < 0 || st.Through < st.From || st.Refusals < 0 {
		return st, fmt.Errorf("shard state: offsets from %d through %d are not in order", st.From, st.Through)
	}
	return st, nil
}
