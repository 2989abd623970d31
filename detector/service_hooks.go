package detector

import (
	"context"
	"fmt"

	"github.com/ropcwatch/ropcwatch/stream"
)

func (s *service) assigned(ctx context.Context, topic string, partitions []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tps := topicPartitions(topic, partitions)
	err := s.pipe.assign(ctx, tps, &s.out)
	s.publish(ctx)
	if err != nil {
		s.fail(fmt.Errorf("take over topic %s partitions %v: %w", topic, partitions, err))
		return
	}
	s.cfg.Metrics.SetReady(true)
	s.cmu.Lock()
	for _, tp := range tps {
		delete(s.revokedTP, tp)
	}
	s.cmu.Unlock()
	s.log.Info("partitions assigned", "topic", topic, "partitions", partitions)
}

// revoked finishes the work of partitions taken away: their output is
// flushed and their offsets committed before the next owner reads them
// (with ExactlyOnce the transaction of the last batch did that).
func (s *service) revoked(ctx context.Context, topic string, partitions []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tps := topicPartitions(topic, partitions)
	if !s.cfg.ExactlyOnce {
		s.publish(ctx)
		if err := s.deliver(ctx, s.pipe.commit(tps)); err != nil {
			s.log.Warn("commit on revoke failed; the next owner replays from the previous commit", "topic", topic, "error", err)
		}
	}
	s.pipe.revoke(tps)
	s.cfg.Metrics.forget(tps)
	s.cmu.Lock()
	for _, tp := range tps {
		delete(s.committed, tp)
		s.revokedTP[tp] = true
	}
	s.cmu.Unlock()
	s.log.Info("partitions revoked", "topic", topic, "partitions", partitions)
}

func topicPartitions(topic string, partitions []int32) []stream.TopicPartition {
	tps := make([]stream.TopicPartition, len(partitions))
	for i, p := range partitions {
		tps[i] = stream.TopicPartition{Topic: topic, Partition: p}
	}
	return tps
}
