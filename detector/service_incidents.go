package detector

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ropcwatch/ropcwatch/stream"
)

// restoreIncidents reads the incidents topic back, so that alerts replayed
// after a restart keep their incidents (SPEC section 6: a replay re-creates
// the same revisions, IncidentId included).
func (s *service) restoreIncidents(ctx context.Context) error {
	if s.cfg.IncidentsTopic == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
	defer cancel()
	incidents := s.pipe.base().emit.Incidents()
	n := 0
	err := s.kafka.reader.ReadAll(ctx, s.cfg.IncidentsTopic, false, func(r stream.Record) error {
		var inc Incident
		if err := json.Unmarshal(r.Value, &inc); err != nil {
			s.log.Warn("incident record skipped", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "error", err)
			return nil
		}
		if inc.RuleId == s.cfg.Live.Rule.ID {
			incidents.Restore(inc)
			n++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore incidents: %w", err)
	}
	s.log.Info("incidents restored", "topic", s.cfg.IncidentsTopic, "snapshots", n)
	return nil
}
