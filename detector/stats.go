package detector

import (
	"fmt"
	"io"
	"maps"
	"slices"
)

// maxCategories bounds the distinct category names counted: the names come
// from the input, so an attacker could otherwise grow the map without end.
const maxCategories = 64

// otherCategory counts records of categories past maxCategories.
const otherCategory = "(other)"

// verdictCount is the number of Verdict values.
const verdictCount = int(IPAllowlisted) + 1

// Stats counts what happened to every message and record, so that a run can
// prove nothing was lost: each record is evaluated, skipped by category,
// proven not ROPC by the prefilter, or rejected with a reason.
type Stats struct {
	Messages           int64 // non-blank messages (lines) read
	Bytes              int64 // bytes of those messages
	Prefiltered        int64 // whole messages proven not ROPC without decoding
	RejectedMessages   int64 // whole messages rejected (framing, JSON, shape)
	PrefilteredRecords int64 // records of decoded envelopes proven not ROPC without decoding
	Records            int64 // records decoded
	Evaluated          int64 // decoded records the rule evaluated
	Verdicts           [verdictCount]int64
	Duplicates         int64            // qualifying records already counted (same Id, user and window)
	Late               int64            // qualifying records for a closed but retained window (streaming)
	TruncatedSets      int64            // qualifying records whose IP, country or app a full set dropped
	TruncatedIDs       int64            // qualifying records whose Id a full window did not remember
	Skipped            map[string]int64 // decoded records of other categories, by category
	Rejected           map[string]int64 // by reason
}

// Add merges o into s.
func (s *Stats) Add(o *Stats) {
	s.Messages += o.Messages
	s.Bytes += o.Bytes
	s.Prefiltered += o.Prefiltered
	s.RejectedMessages += o.RejectedMessages
	s.PrefilteredRecords += o.PrefilteredRecords
	s.Records += o.Records
	s.Evaluated += o.Evaluated
	for i, n := range o.Verdicts {
		s.Verdicts[i] += n
	}
	s.Duplicates += o.Duplicates
	s.Late += o.Late
	s.TruncatedSets += o.TruncatedSets
	s.TruncatedIDs += o.TruncatedIDs
	for k, n := range o.Skipped {
		s.skip(k, n)
	}
	for k, n := range o.Rejected {
		s.reject(k, n)
	}
}

// skip counts n records of category. The name must not alias a buffer that
// will be reused: assigning to a map replaces the stored string key with the
// one given, even when the key exists.
func (s *Stats) skip(category string, n int64) {
	if s.Skipped == nil {
		s.Skipped = make(map[string]int64)
	}
	if _, ok := s.Skipped[category]; !ok && len(s.Skipped) >= maxCategories {
		category = otherCategory
	}
	s.Skipped[category] += n
}

func (s *Stats) reject(reason string, n int64) {
	if s.Rejected == nil {
		s.Rejected = make(map[string]int64)
	}
	s.Rejected[reason] += n
}

// RejectedTotal is the number of rejected messages and records.
func (s *Stats) RejectedTotal() int64 {
	var n int64
	for _, v := range s.Rejected {
		n += v
	}
	return n
}

// WriteReport writes a human-readable summary of s.
func (s *Stats) WriteReport(w io.Writer) {
	fmt.Fprintf(w, "messages %d (%d bytes): %d proven not ROPC by the prefilter, %d decoded, %d rejected whole\n",
		s.Messages, s.Bytes, s.Prefiltered, s.Messages-s.Prefiltered-s.RejectedMessages, s.RejectedMessages)
	fmt.Fprintf(w, "records decoded %d: evaluated %d, skipped by category %d, proven not ROPC in decoded envelopes %d\n",
		s.Records, s.Evaluated, sum(s.Skipped), s.PrefilteredRecords)
	for v := Verdict(0); int(v) < verdictCount; v++ {
		if n := s.Verdicts[v]; n > 0 {
			fmt.Fprintf(w, "  %-18s %d\n", v.String(), n)
		}
	}
	if s.Duplicates > 0 {
		fmt.Fprintf(w, "  %-18s %d (same Id, user and window)\n", "duplicate", s.Duplicates)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Skipped)) {
		fmt.Fprintf(w, "skipped category %q: %d\n", k, s.Skipped[k])
	}
	for _, k := range slices.Sorted(maps.Keys(s.Rejected)) {
		fmt.Fprintf(w, "rejected %s: %d\n", k, s.Rejected[k])
	}
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
