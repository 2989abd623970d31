package detector

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ropcwatch/ropcwatch/stream"
)

// produce sends r, in the open transaction with ExactlyOnce. Shutting down
// does not cancel what is in flight: the final flush, bounded by the
// shutdown timeout, delivers it.
func (s *service) produce(ctx context.Context, r stream.Record) {
	ctx = context.WithoutCancel(ctx)
	if s.cfg.ExactlyOnce {
		s.session.Produce(ctx, r, s.acked)
		return
	}
	s.producer.Produce(ctx, r, s.acked)
}

func (s *service) flush(ctx context.Context) error {
	if s.cfg.ExactlyOnce {
		return s.session.Flush(ctx)
	}
	return s.producer.Flush(ctx)
}

// publish produces the pending output asynchronously; commit waits for it.
func (s *service) publish(ctx context.Context) {
	defer s.out.Reset()
	for i := range s.out.Alerts {
		a := &s.out.Alerts[i]
		value, err := a.Marshal(s.cfg.Format)
		if err != nil {
			s.fail(fmt.Errorf("render alert %s revision %d: %w", a.AlertId, a.Revision, err))
			return
		}
		rec := stream.Record{Topic: s.cfg.AlertsTopic, Key: a.Key(), Value: value}
		for _, h := range a.Headers(s.cfg.Format) {
			rec.Headers = append(rec.Headers, stream.Header{Key: h[0], Value: []byte(h[1])})
		}
		s.produce(ctx, rec)
		s.cfg.Metrics.alert(a, s.out.Causes[i], s.now())
	}
	if s.cfg.IncidentsTopic != "" {
		for _, inc := range s.out.Incidents {
			value, err := json.Marshal(inc)
			if err != nil {
				s.fail(fmt.Errorf("render incident %s: %w", inc.IncidentId, err))
				return
			}
			s.produce(ctx, stream.Record{Topic: s.cfg.IncidentsTopic, Key: []byte(inc.IncidentId), Value: value})
		}
	}
	for _, dl := range s.out.DeadLetters {
		if s.cfg.DeadLetterTopic == "" {
			s.log.Warn("record rejected", "reason", dl.Reason, "topic", dl.Source, "partition", dl.Partition, "offset", dl.Position)
			continue
		}
		s.produce(ctx, stream.DeadLetterRecord(s.cfg.DeadLetterTopic, dl))
	}
}

// acked records the first produce failure; the loop then stops without
// committing, so a restart replays and produces again.
func (s *service) acked(r stream.Record, err error) {
	if err != nil {
		s.fail(fmt.Errorf("produce to %s: %w", r.Topic, err))
	}
}

func (s *service) fail(err error) {
	s.errOnce.Do(func() { s.failed <- err })
}
