package detector

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
)

// simOptions is the shape of one simulated run, drawn from its seed.
type simOptions struct {
	scaled      bool // routers and shards; else one engine per instance
	exactlyOnce bool
	static      bool // static membership (restarts keep partitions)
	nodes       int  // instances at the start
	inputParts  int
	shards      int // partitions of the internal topics
	input       simInputConfig
	faults      simFaults
	budget      int64 // of a process; zero: the default
}

func drawSimOptions(seed uint64) simOptions {
	r := rand.New(rand.NewPCG(seed, 0x6f707473)) // "opts"
	o := simOptions{
		scaled:     r.IntN(5) > 0,
		static:     r.IntN(2) == 0,
		nodes:      1 + r.IntN(3),
		inputParts: 1 + r.IntN(4),
		shards:     1 + r.IntN(4),
	}
	if !o.scaled {
		// One engine per instance groups incidents per instance: one
		// instance, restarted, is what it promises to be exact for.
		o.nodes = 1
	}
	o.exactlyOnce = o.scaled && r.IntN(3) == 0
	if o.exactlyOnce {
		o.static = true // a transactional id per instance
	}
	o.input = simInputConfig{
		start: simStart, span: 35 * time.Minute, messages: 150 + r.IntN(250), partitions: o.inputParts,
		keyed: !o.scaled,
	}
	if o.scaled {
		// One engine re-reads its input from the commit after a restart
		// with its watermark unknown: a record later than the lateness (a
		// late sign-in, or one sent again long after) may then be judged
		// otherwise. Shards keep theirs in their state.
		o.input.redeliver = 0.1
		if r.IntN(3) == 0 {
			o.input.late = 0.05
		}
	}
	if r.IntN(3) == 0 {
		o.input.markers = 0.2
	}
	if r.IntN(2) == 0 {
		o.faults = simFaults{
			produceFail: r.Float64() * 0.02, commitFail: r.Float64() * 0.1,
			readFail: r.Float64() * 0.1, listFail: r.Float64() * 0.1, txnAbort: r.Float64() * 0.05,
		}
	}
	if r.IntN(4) == 0 && o.scaled {
		// One engine rebuilds by reading its input again, where another
		// interleaving of partitions may meet the budget elsewhere: only a
		// shard's memory decisions are replayed exactly.
		o.budget = int64((2 + r.IntN(6)) * 900 * max(o.shards, 1))
	}
	return o
}

var simStart = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)

// simLive is the streaming configuration of every simulated instance: ten
// minute windows, so that a run of under an hour of event time closes
// several.
func simLive(o simOptions, now func() time.Time) LiveConfig {
	rule := *SeedRule()
	rule.QueryPeriod = 10 * time.Minute
	rule.Incident.LookbackDuration = 20 * time.Minute
	return LiveConfig{
		Rule: &rule, Lateness: time.Minute, IdleTimeout: 20 * time.Second, Retention: 10 * time.Minute,
		UpdateInterval: time.Minute, MemoryBudget: o.budget, KeyedInput: o.input.keyed, Now: now,
	}
}

// Topics of a simulated run.
const (
	simInput     = "signins"
	simAlerts    = "alerts"
	simIncidents = "incidents"
	simDead      = "dead"
	simGroupName = "ropcwatch"
)

// simRun is one simulated run: the world, the input, the processes, and
// a trace of what the scheduler did.
type simRun struct {
	seed  uint64
	opts  simOptions
	w     *simWorld
	input []simMessage
	fed   int
	nodes []*simNode // every process started, dead or alive
	names int
	trace []string
}

func newSimRun(seed uint64) *simRun {
	r := &simRun{seed: seed, opts: drawSimOptions(seed)}
	r.w = newSimWorld(seed, simStart)
	r.w.logf = r.logf
	r.w.faults = r.opts.faults
	r.input = genSimInput(r.w.rng, r.opts.input)
	r.w.createTopic(simInput, r.opts.inputParts)
	r.w.createTopic(simAlerts, 3)
	r.w.createTopic(simIncidents, 1)
	r.w.createTopic(simDead, 1)
	if r.opts.scaled {
		rep, state := ScaleTopics(simGroupName)
		r.w.createTopic(rep, r.opts.shards)
		r.w.createTopic(state, r.opts.shards)
	}
	return r
}

func (r *simRun) logf(format string, args ...any) {
	r.trace = append(r.trace, fmt.Sprintf("+%-9s ", r.w.now.Sub(simStart).Round(time.Millisecond))+fmt.Sprintf(format, args...))
}

// config is the service configuration of one instance.
func (r *simRun) config(instance string) ServiceConfig {
	cfg := ServiceConfig{
		Live:        simLive(r.opts, r.w.clock),
		Consumer:    stream.ConsumerConfig{Kafka: stream.KafkaConfig{Brokers: []string{"sim:9092"}}, Topics: []string{simInput}, Group: simGroupName, InstanceID: instance},
		Producer:    stream.ProducerConfig{Kafka: stream.KafkaConfig{Brokers: []string{"sim:9092"}}},
		AlertsTopic: simAlerts, IncidentsTopic: simIncidents, DeadLetterTopic: simDead,
		CommitInterval: time.Second, TickInterval: 100 * time.Millisecond,
	}
	if r.opts.scaled {
		rep, state := ScaleTopics(simGroupName)
		cfg.Scale = &ScaleConfig{RepartitionTopic: rep, StateTopic: state, CreateTopics: true}
	}
	if *simTrace {
		cfg.Logger = slog.New(slog.NewTextHandler(traceWriter{r, instance}, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			},
		}))
	}
	if r.opts.exactlyOnce {
		cfg.ExactlyOnce, cfg.TransactionalID = true, simGroupName+"-"+instance
	}
	return cfg
}

// start starts a process named name (a static member with that id when
// the run uses static membership).
func (r *simRun) start(name string) *simNode {
	n := &simNode{w: r.w, name: name}
	if r.opts.static {
		n.instance = name
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := newService(ctx, r.config(n.instance), n.kafka())
	if err != nil {
		cancel()
		r.w.violate("%s did not start: %v", name, err)
		return nil
	}
	n.svc, n.cancel = svc, cancel
	r.nodes = append(r.nodes, n)
	r.logf("start %s (%s)", name, n.member.id)
	return n
}

func (r *simRun) live() []*simNode {
	var out []*simNode
	for _, n := range r.nodes {
		if n.svc != nil {
			out = append(out, n)
		}
	}
	return out
}

// dead returns the names of processes that died and were not restarted.
func (r *simRun) dead() []string {
	alive := map[string]bool{}
	var names []string
	for _, n := range r.nodes {
		if n.svc != nil {
			alive[n.name] = true
		}
	}
	for _, n := range r.nodes {
		if n.svc == nil && !n.stopped && !alive[n.name] && !slices.Contains(names, n.name) {
			names = append(names, n.name)
		}
	}
	return names
}

// feed produces the input messages due by now.
func (r *simRun) feed() {
	for r.fed < len(r.input) && !r.input[r.fed].at.After(r.w.now) {
		m := r.input[r.fed]
		r.fed++
		if m.marker {
			r.w.appendRecord(stream.Record{Topic: simInput, Partition: m.partition}, true)
			continue
		}
		rec := r.w.appendRecord(stream.Record{Topic: simInput, Partition: m.partition, Value: m.value}, false)
		r.input[r.fed-1].offset = rec.Offset
	}
}

// step runs one turn of a process's poll loop; an error ends the process
// as RunService does: the queued commit is delivered, then it stops.
func (r *simRun) step(n *simNode) {
	if err := n.svc.step(n.svc.ctx); err != nil {
		r.logf("%s exits: %v", n.name, err)
		r.exit(n, err)
	}
}

// exit ends a process after its loop returned err (nil for SIGTERM), as
// RunService does after its loop.
func (r *simRun) exit(n *simNode, err error) {
	for {
		select {
		case c := <-n.svc.commits:
			n.svc.deliverQueued(n.svc.ctx, c)
			continue
		default:
		}
		break
	}
	n.cancel()
	if stopErr := n.svc.stop(n.svc.ctx, err); stopErr != nil && err == nil {
		r.logf("%s stop: %v", n.name, stopErr)
	}
	n.stopped = err == nil
	n.svc = nil
	if n.member != nil && !n.member.kicked && slices.Contains(r.w.group.members, n.member) {
		// A process that exits on an error leaves the group (Close).
		r.w.group.leave(n.member)
	}
}

// deliver runs the committer on a queued commit, if there is one.
func (r *simRun) deliver(n *simNode) {
	select {
	case c := <-n.svc.commits:
		n.svc.deliverQueued(n.svc.ctx, c)
	default:
	}
}

// crash kills a process: its memory and what it had in flight are gone.
func (r *simRun) crash(n *simNode) {
	r.logf("SIGKILL %s", n.name)
	r.w.crash(n)
	n.txn = nil
	n.cancel()
	n.svc = nil
	if n.member != nil && n.member.node == n {
		n.member.node, n.member.died = nil, r.w.now
	}
}

// notice makes a zombie learn that it was kicked out: its partitions are
// lost (the Revoked hook runs) and it joins again as a new member.
func (r *simRun) notice(n *simNode) {
	r.logf("%s notices it was kicked out", n.name)
	lost := sortedKeys(n.member.assigned)
	n.revoke(lost)
	clear(n.member.assigned)
	n.member = r.w.group.join(n, r.w.group.topics, "")
}

// action is one thing the scheduler can do, with its weight.
type simAction struct {
	weight int
	do     func() bool // false when it did not apply
}

// run drives the run: random actions until the input is produced, then a
// quiet end in which every window closes; it returns after stopping every
// process.
func (r *simRun) run() {
	for i := range r.opts.nodes {
		r.start(fmt.Sprintf("node-%d", i))
	}
	rng := r.w.rng
	pick := func(list []*simNode) *simNode {
		if len(list) == 0 {
			return nil
		}
		return list[rng.IntN(len(list))]
	}
	actions := []simAction{
		{30, func() bool { r.advance(time.Duration(10+rng.IntN(990)) * time.Millisecond); return true }},
		{2, func() bool { r.advance(time.Duration(5+rng.IntN(60)) * time.Second); return true }},
		{40, func() bool {
			n := pick(r.live())
			if n == nil {
				return false
			}
			r.step(n)
			return true
		}},
		{8, func() bool {
			n := pick(r.live())
			if n == nil {
				return false
			}
			r.deliver(n)
			return true
		}},
		{12, func() bool { r.w.ack(nil, false); return true }},
		{8, func() bool {
			n := pick(r.live())
			if n == nil {
				return false
			}
			n.svc.refreshEnds(n.svc.ctx)
			return true
		}},
		{6, func() bool { return r.rebalance() }},
		{1, func() bool {
			n := pick(r.live())
			if n == nil || len(r.live()) == 0 {
				return false
			}
			r.crash(n)
			return true
		}},
		{3, func() bool {
			names := r.dead()
			if len(names) == 0 {
				return false
			}
			r.start(names[rng.IntN(len(names))])
			return true
		}},
		{1, func() bool {
			n := pick(r.live())
			if n == nil || n.member.kicked || rng.IntN(3) > 0 {
				return false
			}
			r.logf("kick %s out of the group", n.name)
			r.w.group.kick(n.member)
			return true
		}},
		{4, func() bool {
			for _, n := range r.live() {
				if n.member.kicked {
					r.notice(n)
					return true
				}
			}
			return false
		}},
		{1, func() bool {
			if rng.IntN(3) > 0 {
				return false
			}
			if len(r.live()) < 3 && r.opts.scaled {
				r.names++
				r.start(fmt.Sprintf("extra-%d", r.names))
				return true
			}
			n := pick(r.live())
			if n == nil {
				return false
			}
			r.logf("SIGTERM %s", n.name)
			n.cancel()
			r.exit(n, nil)
			return true
		}},
		{1, func() bool {
			topics := []string{simInput}
			if r.opts.scaled {
				rep, _ := ScaleTopics(simGroupName)
				topics = append(topics, rep)
			}
			t := topics[rng.IntN(len(topics))]
			tp := stream.TopicPartition{Topic: t, Partition: int32(rng.IntN(r.w.partitions(t)))}
			d := time.Duration(1+rng.IntN(90)) * time.Second
			r.logf("partition %s/%d down for %s", tp.Topic, tp.Partition, d)
			r.w.down[tp] = r.w.now.Add(d)
			return true
		}},
	}
	total := 0
	for _, a := range actions {
		total += a.weight
	}
	last := r.input[len(r.input)-1].at
	for steps := 0; r.w.now.Before(last) && steps < 20000; steps++ {
		r.feed()
		r.w.group.expire()
		x := rng.IntN(total)
		for _, a := range actions {
			if x < a.weight {
				a.do()
				break
			}
			x -= a.weight
		}
	}
	r.quiesce(last)
}

// advance moves the clock.
func (r *simRun) advance(d time.Duration) { r.w.now = r.w.now.Add(d) }

// rebalance runs the next phase of a due rebalance.
func (r *simRun) rebalance() bool {
	g := r.w.group
	switch {
	case len(g.moving) > 0:
		r.logf("rebalance: assign")
		g.assignPhase()
	case g.stale:
		r.logf("rebalance: revoke")
		g.revokePhase()
		if len(g.moving) == 0 {
			g.stale = false
		}
	default:
		return false
	}
	return true
}

// quiesce ends the run without faults: every process restarted, every
// record produced, time running on until every window has closed and
// every partition is read to its end; then every process stops.
func (r *simRun) quiesce(last time.Time) {
	r.logf("quiesce")
	r.w.faults = simFaults{}
	clear(r.w.down)
	for _, n := range r.live() {
		if n.member.kicked {
			r.notice(n)
		}
	}
	for _, name := range r.dead() {
		r.start(name)
	}
	if len(r.live()) == 0 {
		r.start("node-0")
	}
	live := simLive(r.opts, nil).withDefaults()
	until := last.Add(live.Lateness + live.IdleTimeout + live.Rule.QueryPeriod + 30*time.Second)
	for i := 0; ; i++ {
		if i == 2000 {
			r.w.violate("the run did not settle: partitions unread or output unacknowledged after %d quiet steps: %s", i, r.unsettled())
			break
		}
		r.feed()
		// A process that exits on an error from before the quiet (a
		// produce that failed) is restarted, as its supervisor would.
		for _, name := range r.dead() {
			r.start(name)
		}
		r.w.group.expire()
		for r.rebalance() {
		}
		for _, n := range r.live() {
			n.svc.refreshEnds(n.svc.ctx)
			r.step(n)
			if n.svc != nil {
				r.deliver(n)
			}
		}
		r.w.ack(nil, true)
		if r.w.now.After(until) && r.caughtUp() {
			break
		}
		r.advance(2 * time.Second)
	}
	if simBeforeStop != nil {
		simBeforeStop(r)
	}
	for _, n := range r.live() {
		r.logf("SIGTERM %s", n.name)
		n.cancel()
		r.exit(n, nil)
	}
	r.w.ack(nil, true)
}

// simBeforeStop, when set, looks at a run before its processes stop.
var simBeforeStop func(*simRun)

// caughtUp reports whether every partition of the group is read to its end
// by its owner and nothing is in flight.
func (r *simRun) caughtUp() bool {
	g := r.w.group
	if g.stale || len(g.moving) > 0 || len(r.w.pending) > 0 {
		return false
	}
	for _, tp := range g.partitions() {
		m := g.owner[tp]
		if m == nil || m.node == nil || m.position[tp] < r.settled(tp) {
			return false
		}
	}
	return true
}

// settled is the offset a partition must be read to: its end, but for the
// progress markers that routers keep sending.
func (r *simRun) settled(tp stream.TopicPartition) int64 {
	log := r.w.log(tp)
	for i := len(log) - 1; i >= 0; i-- {
		if !log[i].control && kindOf(log[i].Record) != KindProgress {
			return int64(i) + 1
		}
	}
	return 0
}

// unsettled says why caughtUp is false.
func (r *simRun) unsettled() string {
	g := r.w.group
	var why []string
	if g.stale || len(g.moving) > 0 {
		why = append(why, fmt.Sprintf("rebalance due (stale %v, %d moving)", g.stale, len(g.moving)))
	}
	if n := len(r.w.pending); n > 0 {
		why = append(why, fmt.Sprintf("%d produces pending", n))
	}
	for _, tp := range g.partitions() {
		m := g.owner[tp]
		switch {
		case m == nil:
			why = append(why, fmt.Sprintf("%s/%d unowned", tp.Topic, tp.Partition))
		case m.node == nil:
			why = append(why, fmt.Sprintf("%s/%d owned by dead %s", tp.Topic, tp.Partition, m.id))
		case m.position[tp] < r.settled(tp):
			why = append(why, fmt.Sprintf("%s/%d read to %d of %d by %s", tp.Topic, tp.Partition, m.position[tp], r.w.end(tp), m.node.name))
		}
	}
	return strings.Join(why, "; ")
}

func (r *simRun) traceText() string { return strings.Join(r.trace, "\n") }

// traceWriter puts a process's log lines in the run's trace.
type traceWriter struct {
	r    *simRun
	name string
}

func (w traceWriter) Write(b []byte) (int, error) {
	w.r.logf("  %s log: %s", w.name, strings.TrimSpace(string(b)))
	return len(b), nil
}
