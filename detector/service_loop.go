package detector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
)

// step is one turn of the poll loop: poll, evaluate, publish, then end the
// transaction (ExactlyOnce) or queue a commit when one is due. It returns
// the error that stops the service; nil when ctx is done.
func (s *service) step(ctx context.Context) error {
	select {
	case err := <-s.failed:
		return err
	default:
	}
	if s.cfg.ExactlyOnce {
		if err := s.session.Begin(); err != nil {
			return err
		}
	}
	pollCtx, cancel := context.WithTimeout(ctx, s.cfg.TickInterval)
	batch, err := s.session.Poll(pollCtx)
	cancel()
	if ctx.Err() != nil {
		if s.cfg.ExactlyOnce {
			// The batch is not processed: abort, so that its offsets
			// are not committed.
			_, err := s.session.End(context.WithoutCancel(ctx), false)
			return err
		}
		return nil
	}
	if err := s.consumeError(err); err != nil {
		return err
	}
	s.mu.Lock()
	s.reconfigure()
	s.takeEnds()
	if err := s.pipe.process(batch, &s.out); err != nil {
		s.fail(fmt.Errorf("evaluate polled records: %w", err))
	}
	s.pipe.tick(&s.out)
	s.publish(ctx)
	s.pipe.observe(s.cfg.Metrics)
	if s.cfg.OnBatch != nil && len(batch.Records) > 0 {
		s.cfg.OnBatch(s.pipe.base().Stats())
	}
	var endErr error
	switch {
	case s.broken.Load() && s.cfg.ExactlyOnce:
		// What this transaction holds is not whole: abort it.
		_, endErr = s.session.End(s.bounded(ctx), false)
		endErr = errors.Join(s.firstErr, endErr)
	case s.cfg.ExactlyOnce:
		endErr = s.endTransaction(ctx, len(batch.Records))
	case s.now().Sub(s.lastCommit) >= s.cfg.CommitInterval:
		s.lastCommit = s.now()
		s.queueCommit(s.pipe.commit(nil))
	}
	s.mu.Unlock()
	s.session.AllowRebalance()
	return endErr
}

// bounded returns a context for one wait on the brokers: it ends after the
// shutdown timeout, or when the service must stop at once.
func (s *service) bounded(ctx context.Context) context.Context {
	ctx, cancel := context.WithTimeout(s.hard, s.cfg.ShutdownTimeout)
	context.AfterFunc(ctx, cancel)
	return ctx
}

// consumeError decides on a poll error: the client retries on its own
// (a broker restarting, a coordinator moving), so errors are logged and
// the service runs on, not ready, until they persist for FailAfter.
func (s *service) consumeError(err error) error {
	now := s.now()
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		if !s.erring.IsZero() {
			s.log.Info("consuming again", "after", now.Sub(s.erring).Round(time.Millisecond))
			s.erring = time.Time{}
			s.cfg.Metrics.SetReady(true)
		}
		return nil
	}
	if s.erring.IsZero() {
		s.erring = now
		s.cfg.Metrics.SetReady(false)
	}
	if now.Sub(s.erring) >= s.cfg.FailAfter {
		return fmt.Errorf("consume: failing for %s: %w", now.Sub(s.erring).Round(time.Second), err)
	}
	if now.Sub(s.lastErrLog) >= 5*time.Second {
		s.lastErrLog = now
		s.log.Warn("consume failing; retrying", "for", now.Sub(s.erring).Round(time.Millisecond), "error", err)
	}
	return nil
}

// endTransaction writes the state records and commits the transaction;
// when it aborts instead (partitions were lost meanwhile), the shards are
// rebuilt from what was committed, as consumption rewinds to it. Callers
// hold mu.
func (s *service) endTransaction(ctx context.Context, records int) error {
	// Shutting down must not cut a commit in half: it gets the shutdown
	// timeout of its own.
	ctx, cancel := context.WithTimeout(s.hard, s.cfg.ShutdownTimeout)
	defer cancel()
	for _, r := range s.pipe.commit(nil).states {
		s.produce(r, s.acked)
	}
	committed, err := s.session.End(ctx, true)
	if err != nil {
		return err
	}
	p := s.pipe.(*scaled) // exactly once needs scaling out (Validate)
	if committed {
		p.committed()
		return nil
	}
	s.log.Warn("transaction aborted (partitions lost or fenced); rebuilding from the last commit", "records", records)
	if err := p.rebuild(ctx, &s.out); err != nil {
		return fmt.Errorf("rebuild after an aborted transaction: %w", err)
	}
	// What the rebuild emits belongs to the next transaction.
	return nil
}

// takeEnds applies partition ends listed in the background, if any.
// Callers hold mu.
func (s *service) takeEnds() {
	select {
	case e := <-s.endsCh:
		s.pipe.listed(e)
	default:
	}
}

// endsEvery is how often the ends of the input partitions are listed: a
// partition counts as caught up only while a listing within endsFresh
// says so.
const endsEvery = time.Second

// refreshEnds lists where the input partitions end and hands the answer to
// the loop. A failure is only logged: the partitions then stop counting as
// caught up, which is the safe side.
func (s *service) refreshEnds(ctx context.Context) {
	s.mu.Lock()
	tps, unpositioned := s.pipe.inputs()
	s.mu.Unlock()
	if len(tps) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, endsEvery)
	defer cancel()
	at := s.now()
	ends, err := s.session.Ends(ctx, tps)
	var starts map[stream.TopicPartition]int64
	if err == nil && len(unpositioned) > 0 {
		starts, err = s.session.Starts(ctx, unpositioned)
	}
	if err != nil {
		if now := s.now(); now.Sub(s.lastEndsLog) >= time.Minute {
			s.lastEndsLog = now
			s.log.Warn("partition ends not listed; they do not count as caught up until they are", "error", err)
		}
		return
	}
	select {
	case <-s.endsCh: // a newer answer replaces one not taken yet
	default:
	}
	s.endsCh <- listedEnds{ends: ends, starts: starts, at: at}
}

// reconfigure applies a pending configuration, if any. Callers hold mu.
func (s *service) reconfigure() {
	select {
	case c := <-s.cfg.Reload:
		if err := s.pipe.base().Reconfigure(c); err != nil {
			s.log.Error("configuration not applied; keeping the previous one", "version", c.Version, "error", err)
			return
		}
		s.log.Info("configuration applied", "version", c.Version, "legit_apps", len(c.Rule.LegitApps), "legit_users", len(c.Rule.LegitUsers), "network_entries", c.Allowlist.Len())
	default:
	}
}
