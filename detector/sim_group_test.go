package detector

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
)

// simGroup is the consumer group of TestSimulation's detector instances:
// one generation at a time, cooperative rebalances in two phases (revoke,
// then assign) that the scheduler runs between polls, as franz-go's
// BlockRebalanceOnPoll allows, static members that keep their partitions
// across a restart, and dead members removed after the session timeout.
type simGroup struct {
	w         *simWorld
	topics    []string
	members   []*simMember
	owner     map[stream.TopicPartition]*simMember
	committed map[stream.TopicPartition]int64
	nextID    int
	// moving holds partitions revoked by a rebalance and not assigned yet;
	// stale says a rebalance is due.
	moving map[stream.TopicPartition]*simMember
	stale  bool
	// sessionTimeout is how long a member whose process died keeps its
	// partitions.
	sessionTimeout time.Duration
}

// simMember is one member of the group: a process's session, or what is
// left of it after a crash until the session timeout.
type simMember struct {
	id       string
	instance string   // static membership id; "" for dynamic
	node     *simNode // nil once its process died
	died     time.Time
	// kicked: the group removed the member (its heartbeats stopped
	// reaching the coordinator) while its process runs on, unaware: a
	// zombie until it notices.
	kicked bool
	// assigned is what the member's process was told it owns.
	assigned map[stream.TopicPartition]bool
	// position is where it fetches each assigned partition next.
	position map[stream.TopicPartition]int64
}

func newSimGroup(w *simWorld) *simGroup {
	return &simGroup{
		w: w, owner: make(map[stream.TopicPartition]*simMember), committed: make(map[stream.TopicPartition]int64),
		moving: make(map[stream.TopicPartition]*simMember), sessionTimeout: 10 * time.Second,
	}
}

func (g *simGroup) partitions() []stream.TopicPartition {
	var tps []stream.TopicPartition
	for _, t := range g.topics {
		for p := range g.w.partitions(t) {
			tps = append(tps, stream.TopicPartition{Topic: t, Partition: int32(p)})
		}
	}
	return tps
}

// join adds a member for node, or, for a static member whose previous
// process died, hands that member's assignment to the new process.
func (g *simGroup) join(node *simNode, topics []string, instance string) *simMember {
	for _, t := range topics {
		if !slices.Contains(g.topics, t) {
			g.topics = append(g.topics, t)
		}
	}
	if instance != "" {
		for _, m := range g.members {
			if m.instance == instance && !m.kicked {
				m.node, m.died = node, time.Time{}
				// The restarted process is told its partitions at once.
				node.pendingAssign = nil
				for tp, o := range g.owner {
					if o == m {
						node.pendingAssign = append(node.pendingAssign, tp)
					}
				}
				m.assigned = map[stream.TopicPartition]bool{}
				return m
			}
		}
	}
	// A new member is told nothing until the group assigns it partitions:
	// what an earlier membership of the process was to be told is void.
	node.pendingAssign = nil
	g.nextID++
	m := &simMember{
		id: fmt.Sprintf("member-%d", g.nextID), instance: instance, node: node,
		assigned: map[stream.TopicPartition]bool{}, position: map[stream.TopicPartition]int64{},
	}
	g.members = append(g.members, m)
	g.stale = true
	return m
}

// leave removes m at once (a clean shutdown).
func (g *simGroup) leave(m *simMember) {
	g.remove(m)
}

func (g *simGroup) remove(m *simMember) {
	g.members = slices.DeleteFunc(g.members, func(x *simMember) bool { return x == m })
	for tp, o := range g.owner {
		if o == m {
			delete(g.owner, tp)
		}
	}
	for tp, o := range g.moving {
		if o == m {
			delete(g.moving, tp)
		}
	}
	g.stale = true
}

// expire removes members whose process died more than the session timeout
// ago.
func (g *simGroup) expire() {
	for _, m := range slices.Clone(g.members) {
		if m.node == nil && !m.died.IsZero() && g.w.now.Sub(m.died) >= g.sessionTimeout {
			g.remove(m)
		}
	}
}

// kick removes a live member without telling its process.
func (g *simGroup) kick(m *simMember) {
	m.kicked = true
	g.remove(m)
}

// target is a balanced assignment that keeps partitions where they are
// when it can (cooperative-sticky), in a deterministic order.
func (g *simGroup) target() map[stream.TopicPartition]*simMember {
	out := make(map[stream.TopicPartition]*simMember)
	if len(g.members) == 0 {
		return out
	}
	tps := g.partitions()
	quota := func(i int) int {
		q := len(tps) / len(g.members)
		if i < len(tps)%len(g.members) {
			q++
		}
		return q
	}
	load := map[*simMember]int{}
	index := map[*simMember]int{}
	for i, m := range g.members {
		index[m] = i
	}
	var free []stream.TopicPartition
	for _, tp := range tps {
		cur := g.owner[tp]
		if cur != nil && slices.Contains(g.members, cur) && load[cur] < quota(index[cur]) {
			out[tp] = cur
			load[cur]++
			continue
		}
		free = append(free, tp)
	}
	for _, tp := range free {
		best := g.members[0]
		for _, m := range g.members {
			if cmp.Compare(load[m]-quota(index[m]), load[best]-quota(index[best])) < 0 {
				best = m
			}
		}
		out[tp] = best
		load[best]++
	}
	return out
}

// revokePhase takes from each member the partitions the next assignment
// gives to another, calling its process's revoke hook.
func (g *simGroup) revokePhase() {
	target := g.target()
	for _, m := range slices.Clone(g.members) {
		var revoke []stream.TopicPartition
		for tp := range m.assigned {
			if target[tp] != m {
				revoke = append(revoke, tp)
			}
		}
		if len(revoke) == 0 {
			continue
		}
		sortTPs(revoke)
		g.w.logf("  revoke %v from %s", revoke, m.id)
		// The hook runs while the member still owns them: it commits.
		if m.node != nil {
			m.node.revoke(revoke)
		}
		for _, tp := range revoke {
			delete(g.owner, tp)
			g.moving[tp] = target[tp]
			delete(m.assigned, tp)
			delete(m.position, tp)
		}
	}
	for tp, m := range target {
		if g.owner[tp] == nil {
			g.moving[tp] = m
		}
	}
}

// assignPhase hands the moving partitions to their new owners.
func (g *simGroup) assignPhase() {
	byMember := map[*simMember][]stream.TopicPartition{}
	for tp, m := range g.moving {
		if slices.Contains(g.members, m) {
			byMember[m] = append(byMember[m], tp)
		}
	}
	clear(g.moving)
	defer func() {
		// A partition whose new owner left meanwhile needs another round.
		g.stale = slices.ContainsFunc(g.partitions(), func(tp stream.TopicPartition) bool { return g.owner[tp] == nil })
	}()
	for _, m := range g.members {
		tps := byMember[m]
		if len(tps) == 0 {
			continue
		}
		sortTPs(tps)
		for _, tp := range tps {
			g.owner[tp] = m
		}
		g.w.logf("  assign %v to %s (node %v)", tps, m.id, m.node != nil)
		if m.node != nil {
			m.node.assign(tps)
		} else {
			for _, tp := range tps {
				m.assigned[tp] = true
			}
		}
	}
}

// start is where a member begins fetching tp: the committed offset, else
// the beginning.
func (g *simGroup) start(tp stream.TopicPartition) int64 {
	if off, ok := g.committed[tp]; ok {
		return off
	}
	return 0
}

// canCommit reports whether m may commit tp now: a member of the current
// generation that owns it.
func (g *simGroup) canCommit(m *simMember, tp stream.TopicPartition) bool {
	return !m.kicked && g.owner[tp] == m
}

func (g *simGroup) commit(tp stream.TopicPartition, off int64) {
	g.committed[tp] = off
	if g.w.commitHook != nil {
		g.w.commitHook(tp, off)
	}
}

// sortTPs orders partitions by topic, then partition.
func sortTPs(tps []stream.TopicPartition) {
	slices.SortFunc(tps, compareTP)
}

// byTopic groups partitions by topic, sorted, as franz-go's hooks get them.
func byTopic(tps []stream.TopicPartition) map[string][]int32 {
	out := map[string][]int32{}
	for _, tp := range tps {
		out[tp.Topic] = append(out[tp.Topic], tp.Partition)
	}
	for _, ps := range out {
		slices.Sort(ps)
	}
	return out
}

// hooks calls hook once per topic, in topic order.
func hooks(ctx context.Context, tps []stream.TopicPartition, hook func(context.Context, string, []int32)) {
	m := byTopic(tps)
	for _, t := range slices.Sorted(maps.Keys(m)) {
		hook(ctx, t, m[t])
	}
}
