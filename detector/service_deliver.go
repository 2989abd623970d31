package detector

import (
	"context"
	"errors"
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
	if err := s.deliver(ctx, c); err != nil && !errors.Is(err, errNotFlushed) {
		s.fail(err)
	}
}

// errBroken refuses a commit after a failure.
var errBroken = errors.New("not committing: output failed to send, so what it covers must be replayed")

// deliver makes a commit durable, in an order that never lets an offset or
// a state record get ahead of the output it covers: it waits until
// everything produced so far is acknowledged, then writes the state
// records of the shards still owned and waits for them, then commits the
// offsets, skipping revoked partitions and offsets not beyond what is
// committed (a commit never goes back). After any failure it commits
// nothing. Every wait is bounded by the shutdown timeout; a flush that
// runs out of time (brokers unreachable) leaves the commit to the next one.
func (s *service) deliver(ctx context.Context, c commit) error {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	ctx, cancel := context.WithTimeout(s.hard, s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.flushed(ctx); err != nil {
		return err
	}
	if s.broken.Load() {
		return errBroken
	}
	if c.flushed != nil {
		c.flushed()
	}
	produced := false
	for _, r := range c.states {
		if sc := s.cfg.Scale; sc != nil && s.revokedTP[stream.TopicPartition{Topic: sc.RepartitionTopic, Partition: r.Partition}] {
			continue // another member owns the shard now: its state is theirs to write
		}
		s.produce(r, s.acked)
		produced = true
	}
	if produced {
		if err := s.flushed(ctx); err != nil {
			return err
		}
	}
	if s.broken.Load() {
		return errBroken
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

// flushed flushes; an error other than running out of time is returned,
// running out of time is logged (the commit waits for the next one).
func (s *service) flushed(ctx context.Context) error {
	err := s.flush(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		s.log.Warn("output not acknowledged in time; the commit waits for the next one", "error", err)
		return errNotFlushed
	}
	return fmt.Errorf("flush before commit: %w", err)
}

// errNotFlushed stops a delivery whose output is not all acknowledged yet;
// it is not a failure of the service.
var errNotFlushed = errors.New("output not acknowledged yet")

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
