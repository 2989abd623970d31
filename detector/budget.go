package detector

// budget bounds the bytes of state one owner of windows (an engine, a
// shard, a batch run) holds: summaries with their Ids and sets, and pending
// revisions. A qualifying sign-in that needs state beyond it is refused as
// state-full; nothing else grows past it. Charges are estimates that
// depend only on the state itself, so two owners that hold the same state
// make the same decisions.
type budget struct {
	limit int64 // zero: no bound
	used  int64
}

func (b *budget) fits(n int64) bool { return b.limit <= 0 || b.used+n <= b.limit }

func (b *budget) charge(n int64) { b.used += n }

// defaultMemoryBudget is the state budget of a process when its
// configuration names none.
const defaultMemoryBudget = 256 << 20

// incidentBytes is the estimated memory of one open incident (its id lists
// are capped at 150 each).
const incidentBytes = 8 << 10

// incidentLimit is the open incidents an owner with budget limit keeps: a
// tenth of the budget.
func incidentLimit(limit int64) int {
	return int(max(limit/10/incidentBytes, 64))
}
