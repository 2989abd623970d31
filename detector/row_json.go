package detector

import (
	"encoding/json"
	"slices"
	"time"
)

// rowJSON is Row's wire shape: exactly the eight KQL columns, in order.
type rowJSON struct {
	UserPrincipalName string     `json:"UserPrincipalName"`
	Count             int        `json:"Count"`
	IPs               []string   `json:"IPs"`
	Countries         []string   `json:"Countries"`
	Apps              []string   `json:"Apps"`
	FirstSeen         outputTime `json:"FirstSeen"`
	LastSeen          outputTime `json:"LastSeen"`
	IPAddress         string     `json:"IPAddress"`
}

// MarshalJSON writes the row's eight columns in KQL order, timestamps with
// seven fractional digits and empty sets as [] (never null). Values are the
// exact raw strings: the row is data, not presentation.
func (r Row) MarshalJSON() ([]byte, error) {
	return json.Marshal(rowJSON{
		UserPrincipalName: r.UserPrincipalName,
		Count:             r.Count,
		IPs:               nonNil(r.IPs),
		Countries:         nonNil(r.Countries),
		Apps:              nonNil(r.Apps),
		FirstSeen:         outputTime(r.FirstSeen),
		LastSeen:          outputTime(r.LastSeen),
		IPAddress:         r.IPAddress,
	})
}

// lookup returns the value of the named result column: a string, an int
// (Count), a []string (IPs, Countries, Apps) or a time.Time (FirstSeen,
// LastSeen). Column names are case-sensitive, as in KQL; ok is false for a
// name that is not a column.
func (r *Row) lookup(column string) (v any, ok bool) {
	switch column {
	case "UserPrincipalName":
		return r.UserPrincipalName, true
	case "Count":
		return r.Count, true
	case "IPs":
		return r.IPs, true
	case "Countries":
		return r.Countries, true
	case "Apps":
		return r.Apps, true
	case "FirstSeen":
		return r.FirstSeen, true
	case "LastSeen":
		return r.LastSeen, true
	case "IPAddress":
		return r.IPAddress, true
	}
	return nil, false
}

// clone returns a copy of r that shares no slices with it, so an alert keeps
// its content while the window's summary keeps growing.
func (r Row) clone() Row {
	r.IPs = slices.Clone(r.IPs)
	r.Countries = slices.Clone(r.Countries)
	r.Apps = slices.Clone(r.Apps)
	return r
}

// isEmptyValue reports whether a looked-up column value is empty in the
// sense of alertDetailsOverride: "", an empty set or a zero time.
func isEmptyValue(v any) bool {
	switch v := v.(type) {
	case string:
		return v == ""
	case []string:
		return len(v) == 0
	case time.Time:
		return v.IsZero()
	}
	return false
}
