package window

import (
	"fmt"
	"time"
)

// Bounds is one window, (Start, End].
type Bounds struct {
	Start time.Time
	End   time.Time
}

// Aligner maps event times to tumbling window bounds aligned to the UTC epoch
// shifted by Offset.
type Aligner struct {
	// Size is the window length; it must be positive.
	Size time.Duration
	// Offset shifts window ends from the epoch grid; zero aligns ends to
	// multiples of Size since 1970-01-01T00:00:00Z (whole hours for 1h).
	Offset time.Duration
}

// Validate reports a non-positive size.
func (a Aligner) Validate() error {
	if a.Size <= 0 {
		return fmt.Errorf("window size %v: must be positive", a.Size)
	}
	return nil
}

// Of returns the window that holds an event at t: the smallest end with
// end >= t on the grid, so that t == end belongs to the window ending at t.
func (a Aligner) Of(t time.Time) Bounds {
	size := int64(a.Size)
	rel := t.UnixNano() - int64(a.Offset)
	// Ceiling division that is correct for negative rel too.
	q := rel / size
	if rel%size > 0 {
		q++
	}
	end := time.Unix(0, q*size+int64(a.Offset)).UTC()
	return Bounds{Start: end.Add(-a.Size), End: end}
}
