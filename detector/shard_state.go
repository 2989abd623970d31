package detector

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
)

// checkpointEvery spaces checkpoints in wall time; a rebuild replays at
// most this much beyond what the open windows need.
const checkpointEvery = 10 * time.Second

// maxCheckpoints bounds the checkpoints a shard keeps: past it, the one
// whose loss widens the gap between its neighbours least goes.
const maxCheckpoints = 64

// shardCheckpoint is where a rebuild may start: an offset of the shard's
// partition and what the shard knew there, beyond its windows.
type shardCheckpoint struct {
	offset    int64
	sources   []sourceProgress
	watermark time.Time
}

func (s *Shard) checkpoint(offset int64) shardCheckpoint {
	return shardCheckpoint{offset: offset, sources: s.sourceList(), watermark: s.lc.watermark}
}

// State returns what a next owner needs to rebuild the shard as it is now,
// false before any record. It also takes a checkpoint when the latest is
// checkpointEvery old.
func (s *Shard) State() (ShardState, bool) {
	if s.next < 0 {
		return ShardState{}, false
	}
	pin := map[stream.TopicPartition]int64{s.tp: s.next}
	s.lc.pinned(pin)
	// The latest checkpoint at or before the first record still needed.
	i := len(s.checkpoints) - 1
	for i > 0 && s.checkpoints[i].offset > pin[s.tp] {
		i--
	}
	s.checkpoints = s.checkpoints[i:]
	cp := s.checkpoints[0]
	s.refused = slices.DeleteFunc(s.refused, func(off int64) bool { return off < cp.offset })
	for len(s.histories) > 1 && s.histories[1] <= cp.offset {
		s.histories = s.histories[1:]
	}
	inc := s.inc.state()
	st := ShardState{
		Partition: s.tp.Partition, Through: s.next, From: cp.offset, Sources: cp.sources, Watermark: cp.watermark,
		Refusals: len(s.refused), Histories: slices.Clone(s.histories), Incidents: &inc,
	}
	if now := s.cfg.Now(); now.Sub(s.lastCheckpoint) >= checkpointEvery {
		s.checkpoints = append(s.checkpoints, s.checkpoint(s.next))
		s.lastCheckpoint = now
		s.thin()
	}
	return st, true
}

// thin drops checkpoints past maxCheckpoints, keeping the first and last.
func (s *Shard) thin() {
	for len(s.checkpoints) > maxCheckpoints {
		best := 1
		for i := 2; i < len(s.checkpoints)-1; i++ {
			if s.checkpoints[i+1].offset-s.checkpoints[i-1].offset < s.checkpoints[best+1].offset-s.checkpoints[best-1].offset {
				best = i
			}
		}
		s.checkpoints = slices.Delete(s.checkpoints, best, best+1)
	}
}

func (s *Shard) sourceList() []sourceProgress {
	list := make([]sourceProgress, 0, len(s.sources))
	for _, p := range s.sources {
		list = append(list, *p)
	}
	slices.SortFunc(list, func(a, b sourceProgress) int { return compareTP(a.tp(), b.tp()) })
	return list
}

// StateRecord renders State for the state topic; false before any record.
func (s *Shard) StateRecord(topic string) (stream.Record, bool) {
	st, ok := s.State()
	if !ok {
		return stream.Record{}, false
	}
	value, err := json.Marshal(st)
	if err != nil {
		panic(fmt.Sprintf("shard: marshal state: %v", err))
	}
	return stream.Record{Topic: topic, Partition: s.tp.Partition, Key: fmt.Appendf(nil, "%d", s.tp.Partition), Value: value}, true
}

// Restore starts an empty shard from a state its previous owner left. The
// caller then applies the partition's records from st.From: up to
// st.Through as a rebuild (refusing again the sign-ins in refused, which
// its previous owners refused, and discarding the output, which was
// delivered), then on as usual; Restored marks the end of the rebuild.
// refused comes from the refusal records between From and Through of the
// state's histories (Refused).
func (s *Shard) Restore(st ShardState, refused map[int64]bool) {
	s.histories = slices.Clone(st.Histories)
	for off := range refused {
		s.refused = append(s.refused, off)
	}
	slices.Sort(s.refused)
	for _, p := range st.Sources {
		s.observe(p)
	}
	s.lc.close(st.Watermark, &Output{}) // no window yet: sets the watermark only
	if st.Incidents != nil {
		s.inc.restoreState(*st.Incidents)
	}
	s.checkpoints = []shardCheckpoint{s.checkpoint(st.From)}
	s.lastCheckpoint = time.Time{} // the next state takes one: the rebuild's may be old
	s.rebuild = &rebuildState{through: st.Through, refused: refused, limit: s.lc.budget.limit}
	s.lc.budget.limit = 0 // the previous owner's refusals are the decisions
}

// Restored marks the end of a rebuild: records before through are in the
// state, and memory decisions are the shard's own again.
func (s *Shard) Restored(through int64) {
	if b := s.rebuild; b != nil {
		s.lc.budget.limit = b.limit
		s.rebuild = nil
		// From here on the decisions are this owner's.
		s.histories = append(s.histories, through)
	}
	s.skip = max(s.skip, through)
	s.next = max(s.next, through)
}

// Refused returns the offsets of the sign-ins a rebuild from st must refuse
// again, given the refusal records between st.From and st.Through: those
// of the history that decided each offset.
func (st ShardState) Refused(records []refusal) map[int64]bool {
	out := map[int64]bool{}
	for _, r := range records {
		if r.Offset < st.From || r.Offset >= st.Through {
			continue
		}
		i, found := slices.BinarySearch(st.Histories, r.Offset)
		if !found {
			i--
		}
		if i >= 0 && st.Histories[i] == r.Since {
			out[r.Offset] = true
		}
	}
	return out
}
