package detector

import "strconv"

// Verdict is the outcome of evaluating the rule's filters on one sign-in:
// Match, or the first filter (in SPEC section 2 order) that dropped it.
type Verdict uint8

const (
	// Match means the sign-in passes every filter and is summarised.
	Match Verdict = iota
	// NotROPC means AuthenticationProtocol =~ "ropc" is false.
	NotROPC
	// NotSuccess means ResultType == 0 is false.
	NotSuccess
	// AppAllowlisted means AppDisplayName is in LegitRopcApps.
	AppAllowlisted
	// UserAllowlisted means tolower(UserPrincipalName) is in LegitRopcUsers.
	UserAllowlisted
	// IPAllowlisted means IPAddress is inside the NetworkAllowlist watchlist.
	IPAllowlisted
)

// String returns the verdict's stable code, for metrics and logs: "match",
// "not-ropc", "not-success", "app-allowlisted", "user-allowlisted" or
// "ip-allowlisted".
func (v Verdict) String() string {
	switch v {
	case Match:
		return "match"
	case NotROPC:
		return "not-ropc"
	case NotSuccess:
		return "not-success"
	case AppAllowlisted:
		return "app-allowlisted"
	case UserAllowlisted:
		return "user-allowlisted"
	case IPAllowlisted:
		return "ip-allowlisted"
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}

// Match evaluates the rule's where clauses and the IP allowlist on s, exactly
// as the KQL query does (SPEC section 2, items 1 to 5), and returns Match or
// the reason s was dropped. Cheap checks run first; the order does not change
// whether s matches, only which reason is reported. A nil nets excludes no
// address. Match does not allocate.
func (r *Rule) Match(s *SignIn, nets *NetworkAllowlist) Verdict {
	if !equalFoldASCII(s.AuthenticationProtocol, "ropc") {
		return NotROPC
	}
	// ResultType is a string column: == 0 holds only for exactly "0".
	if s.ResultType != "0" {
		return NotSuccess
	}
	if s.AppDisplayName != "" {
		for _, app := range r.LegitApps {
			if equalFoldASCII(s.AppDisplayName, app) {
				return AppAllowlisted
			}
		}
	}
	for _, user := range r.LegitUsers {
		if lowerEqualFoldASCII(s.UserPrincipalName, user) {
			return UserAllowlisted
		}
	}
	if nets.Contains(s.IPAddress) {
		return IPAllowlisted
	}
	return Match
}
