package detector

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ropcwatch/ropcwatch/stream"
)

// produce sends r, in the open transaction with ExactlyOnce, calling done
// with the outcome. It waits while the producer's buffer is full, at most
// until the service must stop (hard): a broker outage never blocks a
// shutdown past its timeout.
func (s *service) produce(r stream.Record, done func(stream.Record, error)) {
	if s.cfg.ExactlyOnce {
		s.session.Produce(s.hard, r, done)
		return
	}
	s.producer.Produce(s.hard, r, done)
}

// flush waits until everything produced so far is acknowledged, or ctx
// ends.
func (s *service) flush(ctx context.Context) error {
	if s.cfg.ExactlyOnce {
		return s.session.Flush(ctx)
	}
	return s.producer.Flush(ctx)
}

// publish produces the pending output asynchronously; commit waits for it.
// Internal records go first, then markers: a marker vouches for the
// sign-ins routed before it.
func (s *service) publish(context.Context) {
	defer s.out.Reset()
	for _, r := range s.out.Internal {
		s.produce(r, s.acked)
	}
	for _, r := range s.out.Markers {
		s.produce(r, s.markerAcked)
	}
	for i := range s.out.Alerts {
		a := &s.out.Alerts[i]
		key, value, err := a.Render(s.cfg.Format, s.cfg.Live.MaxRecordBytes)
		if err != nil {
			s.fail(fmt.Errorf("render alert %s revision %d: %w", a.AlertId, a.Revision, err))
			return
		}
		rec := stream.Record{Topic: s.cfg.AlertsTopic, Key: key, Value: value}
		for _, h := range a.Headers(s.cfg.Format) {
			rec.Headers = append(rec.Headers, stream.Header{Key: h[0], Value: []byte(h[1])})
		}
		s.produce(rec, s.acked)
		s.cfg.Metrics.alert(a, s.out.Causes[i], s.now())
	}
	if s.cfg.IncidentsTopic != "" {
		for _, inc := range s.out.Incidents {
			value, err := json.Marshal(inc)
			if err != nil {
				s.fail(fmt.Errorf("render incident %s: %w", inc.IncidentId, err))
				return
			}
			s.produce(stream.Record{Topic: s.cfg.IncidentsTopic, Key: []byte(inc.IncidentId), Value: stream.AppendSafeJSON(nil, value)}, s.acked)
		}
	}
	for _, dl := range s.out.DeadLetters {
		if s.cfg.DeadLetterTopic == "" {
			s.log.Warn("record rejected", "reason", dl.Reason, "topic", dl.Source, "partition", dl.Partition, "offset", dl.Position)
			continue
		}
		s.produce(stream.DeadLetterRecord(s.cfg.DeadLetterTopic, dl.Fit(s.cfg.Live.MaxRecordBytes-recordOverhead)), s.acked)
	}
}

// acked records the first produce failure; the loop then stops without
// committing, so a restart replays and produces again.
func (s *service) acked(r stream.Record, err error) {
	if err != nil {
		s.fail(fmt.Errorf("produce to %s: %w", r.Topic, err))
	}
}

// markerAcked is acked for a progress marker, which also lets the next
// round of markers go.
func (s *service) markerAcked(r stream.Record, err error) {
	if p, ok := s.pipe.(*scaled); ok {
		p.markerAcked()
	}
	s.acked(r, err)
}

// fail records the first failure: the loop stops on it, and nothing is
// committed after it (the records whose output failed must be replayed).
func (s *service) fail(err error) {
	s.errOnce.Do(func() {
		s.firstErr = err
		s.broken.Store(true)
		s.failed <- err
	})
}
