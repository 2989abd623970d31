package detector

import (
	"context"
	"fmt"

	"github.com/ropcwatch/ropcwatch/stream"
)

// queueCommit hands a commit to the committer, replacing one it has not
// taken yet (a newer one covers it).
func (s *service) queueCommit(c commit) {
	select {
	case <-s.commits:
	default:
	}
	s.commits <- c
}

// deliverQueued is the committer's work on a commit the loop queued.
func (s *service) deliverQueued(ctx context.Context, c commit) {
	if err := s.deliver(context.WithoutCancel(ctx), c); err != nil {
		s.fail(err)
	}
}

// deliver writes the state records, waits until everything produced so far
// is acknowledged, then commits offsets, skipping revoked partitions and
// offsets not beyond what is committed (a commit never goes back).
func (s *service) deliver(ctx context.Context, c commit) error {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	for _, r := range c.states {
		s.produce(ctx, r)
	}
	if err := s.flush(ctx); err != nil {
		return fmt.Errorf("flush before commit: %w", err)
	}
	select {
	case err := <-s.failed:
		s.failed <- err
		return err
	default:
	}
	offsets := c.offsets
	for tp, off := range offsets {
		if cur, ok := s.committed[tp]; s.revokedTP[tp] || (ok && off <= cur) {
			delete(offsets, tp)
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	if err := s.session.Commit(ctx, offsets); err != nil {
		// Output is delivered; the offsets go with the next commit. A
		// crash meanwhile replays a little more.
		s.log.Warn("offsets not committed; retrying with the next commit", "error", err)
		return nil
	}
	for tp, off := range offsets {
		s.committed[tp] = off
	}
	return nil
}

// only keeps the offsets of the partitions in tps; all when tps is nil.
func only(offsets map[stream.TopicPartition]int64, tps []stream.TopicPartition) map[stream.TopicPartition]int64 {
	if tps == nil {
		return offsets
	}
	keep := make(map[stream.TopicPartition]int64, len(tps))
	for _, tp := range tps {
		if off, ok := offsets[tp]; ok {
			keep[tp] = off
		}
	}
	return keep
}
