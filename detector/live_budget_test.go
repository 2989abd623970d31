package detector

import (
	"fmt"
	"testing"
	"time"
)

func liveRecordAt(ts time.Time, upn, id, ip string) string {
	return fmt.Sprintf(`{"time":%q,"category":"NonInteractiveUserSignInLogs","resultType":"0","properties":{"id":%q,"authenticationProtocol":"ropc","userPrincipalName":%q,"appDisplayName":"curl","ipAddress":%q}}`, ts.Format(time.RFC3339Nano), id, upn, ip)
}

// twoWindows is a budget for two windows of one sign-in each.
const twoWindows = 1600

// Windows kept after they closed (for late sign-ins to amend) count
// against the state bound like open ones: late sign-ins of new users must
// not grow state past it.
func TestEngineLateSignInsCountAgainstTheBound(t *testing.T) {
	f := newFeeder(t, LiveConfig{MemoryBudget: twoWindows, Lateness: time.Minute, Retention: time.Hour})
	at := func(hm string) time.Time { ts, _ := time.Parse(time.RFC3339, "2026-05-01T"+hm+":00Z"); return ts }
	f.feed(0, liveRecordAt(at("09:10"), "a", "1", "192.0.2.1"))
	f.feed(0, liveRecordAt(at("10:30"), "a", "2", "192.0.2.1")) // closes the 10:00 window
	for i, u := range []string{"c", "d", "e"} {
		f.feed(0, liveRecordAt(at("09:50"), u, fmt.Sprint(10+i), "192.0.2.1"))
	}
	if held := f.e.all.win.HeldWindows(); held > 2 || f.e.Stats().Rejected[ReasonStateFull] != 3 {
		t.Fatalf("%d windows held with a budget for 2; %d late sign-ins refused, want 3", f.e.all.win.HeldWindows(), f.e.Stats().Rejected[ReasonStateFull])
	}
}
