package detector

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

const ropcRecord = `{"time":"2026-05-01T09:30:00Z","category":"NonInteractiveUserSignInLogs","resultType":"0","properties":{"id":"%ID%","authenticationProtocol":"ropc","userPrincipalName":"alice@contoso.com","appDisplayName":"curl","ipAddress":"203.0.113.10"}}`

func ropc(id string) string { return strings.ReplaceAll(ropcRecord, "%ID%", id) }

func scan(sc *Scanner, msgs ...string) *Findings {
	var f Findings
	for i, m := range msgs {
		sc.Scan([]byte(m), i, &f)
	}
	return &f
}

func TestScanMessages(t *testing.T) {
	tests := []struct {
		name    string
		msg     string
		events  int
		reason  string // the one reject expected, if any
		prefilt int64
		skipped string
	}{
		{"a single ROPC record", ropc("a"), 1, "", 0, ""},
		{"an envelope keeps only the ROPC record", `{"records":[` + strings.ReplaceAll(ropc("a"), `"ropc"`, `"none"`) + `,` + ropc("b") + `]}`, 1, "", 0, ""},
		{"a non-ROPC message is never parsed", `{"records":[{"properties":{"authenticationProtocol":"none"}}]}`, 0, "", 1, ""},
		{"a blank line is not a message", "   ", 0, "", 0, ""},
		{"invalid UTF-8 is rejected", "{\"a\":\"\xff\"}", 0, ReasonInvalidUTF8, 0, ""},
		{"a truncated line is rejected", ropc("a")[:100], 0, ReasonInvalidJSON, 0, ""},
		{"an array is not a message", `[` + ropc("a") + `]`, 0, ReasonNotObject, 0, ""},
		{"broken JSON inside a candidate is rejected", `{"properties":{"authenticationProtocol":"ropc",}}`, 0, ReasonInvalidJSON, 0, ""},
		{"records must be an array", `{"records":{"authenticationProtocol":"ropc"}}`, 0, "wrong-type:records", 0, ""},
		{"a wrong type in a candidate record is rejected", strings.Replace(ropc("a"), `"resultType":"0"`, `"resultType":true`, 1), 0, "wrong-type:ResultType", 0, ""},
		{"other categories are skipped by name", strings.Replace(ropc("a"), "NonInteractiveUserSignInLogs", "SignInLogs", 1), 0, "", 0, "SignInLogs"},
		{"a non-object record in an envelope is rejected", `{"records":[1,` + ropc("a") + `]}`, 1, ReasonNotObject, 0, ""},
		{"a duplicated records key rejects the whole message", `{"records":[],"records":[` + ropc("a") + `]}`, 0, "duplicate-key:records", 0, ""},
		{"a duplicated records key after the records", `{"records":[` + ropc("a") + `],"records":[]}`, 0, "duplicate-key:records", 0, ""},
		{"nesting of the bound is read", `{"x":` + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1) + `,` + ropc("a")[1:], 1, "", 0, ""},
		{"nesting past the bound is too deep", `{"x":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `,` + ropc("a")[1:], 0, ReasonTooDeep, 0, ""},
		{"brackets inside strings do not nest", `{"x":"` + strings.Repeat("[", 1000) + `\"` + strings.Repeat("{", 1000) + `",` + ropc("a")[1:], 1, "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := scan(&Scanner{Rule: SeedRule(), FullDecode: false}, tt.msg)
			if len(f.Events) != tt.events {
				t.Fatalf("events = %d, want %d", len(f.Events), tt.events)
			}
			if tt.reason == "" && len(f.Rejected) > 0 || tt.reason != "" && (len(f.Rejected) != 1 || f.Rejected[0].Reason != tt.reason) {
				t.Fatalf("rejected = %+v, want %q", f.Rejected, tt.reason)
			}
			if tt.reason != "" && f.Stats.Rejected[tt.reason] != 1 {
				t.Fatalf("reject not counted: %v", f.Stats.Rejected)
			}
			if f.Stats.Prefiltered != tt.prefilt {
				t.Fatalf("prefiltered = %d, want %d", f.Stats.Prefiltered, tt.prefilt)
			}
			if tt.skipped != "" && f.Stats.Skipped[tt.skipped] != 1 {
				t.Fatalf("skipped = %v, want %s", f.Stats.Skipped, tt.skipped)
			}
		})
	}
}

func TestScanFullDecodeCountsEveryRecord(t *testing.T) {
	msg := `{"records":[{"category":"AuditLogs","properties":{}},{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T09:00:00Z","resultType":false,"properties":{}}]}`
	if f := scan(&Scanner{Rule: SeedRule()}, msg); f.Stats.Prefiltered != 1 || f.Stats.Records != 0 {
		t.Fatalf("prefilter mode: %+v", f.Stats)
	}
	f := scan(&Scanner{Rule: SeedRule(), FullDecode: true}, msg)
	if f.Stats.Records != 2 || f.Stats.Skipped["AuditLogs"] != 1 || f.Stats.Rejected["wrong-type:ResultType"] != 1 {
		t.Fatalf("full mode: %+v", f.Stats)
	}
}

// FuzzScan feeds arbitrary messages to the scanner: it must never panic,
// must account for every message, and the prefilter must never change the
// qualifying sign-ins compared with decoding everything.
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		ropc("a"), `{"records":[` + ropc("a") + `,` + ropc("b") + `]}`, `{"records":[]}`, `{}`, `{"records":null}`,
		`{"TimeGenerated":"2026-05-01T10:00:00Z","AuthenticationProtocol":"ROPC","ResultType":0,"UserPrincipalName":"x"}`,
		`{"properties":{"authenticationProt\u006fcol":"ropc"},"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00Z","resultType":"0"}`,
		"{\"a\":\"\xff\"}", `{"records":[{"properties":{"authenticationProtocol":"ropc"}}`,
	} {
		f.Add([]byte(s))
	}
	rule := SeedRule()
	f.Fuzz(func(t *testing.T, msg []byte) {
		fast := scan(&Scanner{Rule: rule}, string(msg))
		full := scan(&Scanner{Rule: rule, FullDecode: true}, string(msg))
		if !reflect.DeepEqual(fast.Events, full.Events) {
			t.Fatalf("prefilter changed the result:\nfast %+v\nfull %+v", fast.Events, full.Events)
		}
		st := fast.Stats
		if st.Messages > 1 || st.Prefiltered+st.RejectedMessages > st.Messages {
			t.Fatalf("messages not accounted for: %+v", st)
		}
		if int64(len(fast.Rejected)) != st.RejectedTotal() {
			t.Fatalf("%d rejects kept, %d counted", len(fast.Rejected), st.RejectedTotal())
		}
		for _, e := range fast.Events {
			if rule.Match(&e, nil) != Match {
				t.Fatalf("event %+v does not match the rule", e)
			}
		}
	})
}

func TestScanRejectsMessagesOverTheLimit(t *testing.T) {
	msg := ropc("a")
	f := scan(&Scanner{Rule: SeedRule(), MaxMessageBytes: len(msg) - 1}, msg)
	if len(f.Events) != 0 || f.Stats.Rejected[ReasonTooLarge] != 1 {
		t.Fatalf("events %d, rejected %v", len(f.Events), f.Stats.Rejected)
	}
	if f := scan(&Scanner{Rule: SeedRule(), MaxMessageBytes: len(msg)}, msg); len(f.Events) != 1 {
		t.Fatalf("a message of exactly the limit was not evaluated: %v", f.Stats.Rejected)
	}
}

func TestScanCountsCategoriesOfReusedBuffers(t *testing.T) {
	var f Findings
	sc := &Scanner{Rule: SeedRule()}
	buf := []byte(strings.Replace(ropc("a"), "NonInteractiveUserSignInLogs", "SignInLogs", 1))
	orig := bytes.Clone(buf)
	for i := range 3 {
		copy(buf, orig)
		sc.Scan(buf, i, &f)
		for j := range buf {
			buf[j] = 'X' // the reader reuses its buffers
		}
	}
	if len(f.Stats.Skipped) != 1 || f.Stats.Skipped["SignInLogs"] != 3 {
		t.Fatalf("skipped = %v", f.Stats.Skipped)
	}
}
