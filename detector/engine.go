package detector

import (
	"context"

	"github.com/ropcwatch/ropcwatch/stream"
)

// enginePipeline runs one Engine in a service: input keyed by user, or
// one instance.
type enginePipeline struct{ *Engine }

func newEngine(cfg LiveConfig) (pipeline, error) {
	e, err := NewEngine(cfg)
	if err != nil {
		return nil, err
	}
	return enginePipeline{e}, nil
}

func (p enginePipeline) base() *shared { return p.shared }

func (p enginePipeline) process(b stream.Batch, out *Output) { p.IngestBatch(b.Records, out) }

func (p enginePipeline) tick(out *Output) { p.Tick(out) }

func (p enginePipeline) commit(tps []stream.TopicPartition) commit {
	return commit{offsets: only(p.Committable(), tps)}
}

func (p enginePipeline) assign(_ context.Context, tps []stream.TopicPartition) error {
	p.Assign(tps...)
	return nil
}

func (p enginePipeline) revoke(tps []stream.TopicPartition) { p.Revoke(tps...) }

func (p enginePipeline) observe(m *Metrics) { m.observe(p.Engine) }
