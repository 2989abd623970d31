package detector

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"go4.org/netipx"
)

// NetworkAllowlist is the NetworkAllowlist watchlist that the KQL function
// ExcludeAllowlistedIPs_AADNI() consults: sign-ins from an address inside it
// are dropped. It is immutable once parsed, so one value may be shared by
// many goroutines and swapped whole on reload. The nil *NetworkAllowlist is
// valid and excludes nothing.
type NetworkAllowlist struct {
	set *netipx.IPSet
	// entries are the accepted entries as ranges, in file order.
	entries []netipx.IPRange
	// Skipped lists the entries that were not understood, in file order.
	Skipped []SkippedEntry
}

// SkippedEntry is one watchlist entry that was skipped: its 1-based line in
// the CSV file, its value and why it was skipped.
type SkippedEntry struct {
	Line   int
	Value  string
	Reason string
}

// LoadNetworkAllowlist reads the watchlist CSV file at path; see
// ParseNetworkAllowlist.
func LoadNetworkAllowlist(path string) (*NetworkAllowlist, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("network allowlist: %w", err)
	}
	defer f.Close()
	a, err := ParseNetworkAllowlist(f)
	if err != nil {
		return nil, fmt.Errorf("network allowlist %s: %w", path, err)
	}
	return a, nil
}

// ParseNetworkAllowlist reads a Sentinel watchlist export: CSV with a header
// row naming the column SearchKey, else IPOrRange (case-insensitive; a UTF-8
// byte order mark is ignored). Each entry is a single IPv4 or IPv6 address, a
// CIDR prefix or an inclusive range "a-b"; IPv4-mapped IPv6 entries also cover
// their IPv4 equivalents. Bad entries and malformed CSV rows are recorded in
// Skipped, never fatal. An empty input is an empty allowlist. The error is
// for a header without either column, or a read failure.
func ParseNetworkAllowlist(r io.Reader) (*NetworkAllowlist, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	a := &NetworkAllowlist{}
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return a.build()
	}
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	col, err := allowlistColumn(header)
	if err != nil {
		return nil, err
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			a.Skipped = append(a.Skipped, SkippedEntry{Line: perr.StartLine, Reason: perr.Err.Error()})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read entries: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if col >= len(rec) {
			if !blankRecord(rec) {
				a.Skipped = append(a.Skipped, SkippedEntry{Line: line, Reason: fmt.Sprintf("no column %d", col+1)})
			}
			continue
		}
		value := strings.TrimSpace(rec[col])
		if value == "" {
			if !blankRecord(rec) {
				a.Skipped = append(a.Skipped, SkippedEntry{Line: line, Reason: "empty entry"})
			}
			continue
		}
		rng, err := parseAllowlistEntry(value)
		if err != nil {
			a.Skipped = append(a.Skipped, SkippedEntry{Line: line, Value: value, Reason: err.Error()})
			continue
		}
		a.entries = append(a.entries, rng)
	}
	return a.build()
}

// allowlistColumn returns the index of the SearchKey column, else of the
// IPOrRange column, in a watchlist header.
func allowlistColumn(header []string) (int, error) {
	names := make([]string, len(header))
	for i, h := range header {
		names[i] = strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF"))
	}
	for _, want := range []string{"SearchKey", "IPOrRange"} {
		for i, name := range names {
			if strings.EqualFold(name, want) {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("header has no SearchKey or IPOrRange column (found %q)", names)
}

// blankRecord reports whether every field of rec is blank, as in a row of
// commas, which is skipped silently like an empty line.
func blankRecord(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// parseAllowlistEntry parses one watchlist entry: an address, a CIDR prefix
// or an inclusive range "a-b".
func parseAllowlistEntry(s string) (netipx.IPRange, error) {
	if from, to, ok := strings.Cut(s, "-"); ok {
		lo, err := parseEntryAddr(strings.TrimSpace(from))
		if err != nil {
			return netipx.IPRange{}, err
		}
		hi, err := parseEntryAddr(strings.TrimSpace(to))
		if err != nil {
			return netipx.IPRange{}, err
		}
		// An IPv4-mapped end pairs with a plain IPv4 end.
		if lo.Is4In6() && hi.Is4() {
			lo = lo.Unmap()
		}
		if hi.Is4In6() && lo.Is4() {
			hi = hi.Unmap()
		}
		if lo.BitLen() != hi.BitLen() {
			return netipx.IPRange{}, errors.New("range mixes IPv4 and IPv6")
		}
		if hi.Less(lo) {
			return netipx.IPRange{}, errors.New("range ends before it starts")
		}
		return netipx.IPRangeFrom(lo, hi), nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netipx.IPRange{}, err
		}
		return netipx.RangeOfPrefix(p.Masked()), nil
	}
	addr, err := parseEntryAddr(s)
	if err != nil {
		return netipx.IPRange{}, err
	}
	return netipx.IPRangeFrom(addr, addr), nil
}

// parseEntryAddr parses an address of an entry, dropping any IPv6 zone.
func parseEntryAddr(s string) (netip.Addr, error) {
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	return addr.WithZone(""), nil
}

// build makes the IP set from the accepted entries. The part of an IPv6 entry
// inside ::ffff:0:0/96 is added again as IPv4, because Contains unmaps event
// addresses before looking them up.
func (a *NetworkAllowlist) build() (*NetworkAllowlist, error) {
	// mapped is ::ffff:0.0.0.0/96, where IPv4-mapped IPv6 addresses live.
	mapped := netipx.RangeOfPrefix(netip.PrefixFrom(netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff}), 96))
	var b netipx.IPSetBuilder
	for _, r := range a.entries {
		b.AddRange(r)
		if !r.From().Is6() {
			continue
		}
		lo, hi := r.From(), r.To()
		if lo.Less(mapped.From()) {
			lo = mapped.From()
		}
		if mapped.To().Less(hi) {
			hi = mapped.To()
		}
		if !hi.Less(lo) {
			b.AddRange(netipx.IPRangeFrom(lo.Unmap(), hi.Unmap()))
		}
	}
	set, err := b.IPSet()
	if err != nil {
		return nil, fmt.Errorf("build network allowlist: %w", err)
	}
	a.set = set
	return a, nil
}

// Contains reports whether the sign-in address ip is inside the allowlist.
// An IPv4-mapped IPv6 address is looked up as IPv4. "", unparsable
// addresses and addresses with a zone ("fe80::1%eth0", "10.1.2.3%x") are
// never contained (SPEC section 2.5: a zone makes the address another
// host's), and a nil or empty allowlist contains nothing.
func (a *NetworkAllowlist) Contains(ip string) bool {
	// A zone is refused before parsing: parsing one allocates.
	if a == nil || a.set == nil || ip == "" || strings.IndexByte(ip, '%') >= 0 {
		return false
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	return a.set.Contains(addr.Unmap())
}

// Len returns the number of entries accepted.
func (a *NetworkAllowlist) Len() int {
	if a == nil {
		return 0
	}
	return len(a.entries)
}
