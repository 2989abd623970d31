package detector

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

func decodeString(t *testing.T, js string) (SignIn, string, bool, *Reject) {
	t.Helper()
	if !gjson.Valid(js) {
		t.Fatalf("test input is not JSON: %s", js)
	}
	var s SignIn
	cat, eval, rej := decodeRecord(gjson.Parse(js), &s)
	return s, cat, eval, rej
}

func TestDecodeDiagnosticRecord(t *testing.T) {
	js := `{"time":"2026-05-01T10:00:00.1234567Z","category":"NonInteractiveUserSignInLogs","resultType":"0",
		"callerIpAddress":"198.51.100.7","location":"DE","identity":"Not The UPN",
		"properties":{"id":"abc","createdDateTime":"2026-05-01T09:00:00+00:00","authenticationProtocol":"ropc",
		"appDisplayName":"python-requests","userPrincipalName":"alice@contoso.com","ipAddress":"203.0.113.10",
		"status":{"errorCode":50126},"location":{"countryOrRegion":"FR"}}}`
	s, cat, eval, rej := decodeString(t, js)
	if rej != nil || !eval || cat != diagnosticCategory {
		t.Fatalf("cat=%q eval=%v rej=%v", cat, eval, rej)
	}
	want := SignIn{
		TimeGenerated:          time.Date(2026, 5, 1, 10, 0, 0, 123456700, time.UTC),
		AuthenticationProtocol: "ropc", ResultType: "0", AppDisplayName: "python-requests",
		UserPrincipalName: "alice@contoso.com", IPAddress: "203.0.113.10", Location: "DE", Id: "abc",
	}
	if s != want {
		t.Fatalf("got %+v\nwant %+v", s, want)
	}
}

func TestDecodeColumns(t *testing.T) {
	base := func(top, props string) string {
		return `{"category":"NonInteractiveUserSignInLogs"` + top + `,"properties":{"id":"x"` + props + `}}`
	}
	tests := []struct {
		name   string
		record string
		check  func(SignIn) bool
	}{
		{"time falls back to createdDateTime", base(``, `,"createdDateTime":"2026-05-01T09:00:00.5+02:00"`),
			func(s SignIn) bool { return s.TimeGenerated.Equal(time.Date(2026, 5, 1, 7, 0, 0, 5e8, time.UTC)) }},
		{"a missing protocol is the empty string", base(`,"time":"2026-05-01T09:00:00Z"`, ``),
			func(s SignIn) bool { return s.AuthenticationProtocol == "" }},
		{"a null protocol is the empty string", base(`,"time":"2026-05-01T09:00:00Z"`, `,"authenticationProtocol":null`),
			func(s SignIn) bool { return s.AuthenticationProtocol == "" }},
		{"resultType wins over errorCode", base(`,"time":"2026-05-01T09:00:00Z","resultType":"50126"`, `,"status":{"errorCode":0}`),
			func(s SignIn) bool { return s.ResultType == "50126" }},
		{"a numeric errorCode 0 is the string 0", base(`,"time":"2026-05-01T09:00:00Z"`, `,"status":{"errorCode":0}`),
			func(s SignIn) bool { return s.ResultType == "0" }},
		{"a numeric 0.0 keeps its text and is not 0", base(`,"time":"2026-05-01T09:00:00Z","resultType":0.0`, ``),
			func(s SignIn) bool { return s.ResultType == "0.0" }},
		{"ipAddress wins over callerIpAddress", base(`,"time":"2026-05-01T09:00:00Z","callerIpAddress":"1.1.1.1"`, `,"ipAddress":"2001:db8::1"`),
			func(s SignIn) bool { return s.IPAddress == "2001:db8::1" }},
		{"callerIpAddress fills a missing ipAddress", base(`,"time":"2026-05-01T09:00:00Z","callerIpAddress":"1.1.1.1"`, ``),
			func(s SignIn) bool { return s.IPAddress == "1.1.1.1" }},
		{"location falls back to countryOrRegion", base(`,"time":"2026-05-01T09:00:00Z"`, `,"location":{"countryOrRegion":"IN"}`),
			func(s SignIn) bool { return s.Location == "IN" }},
		{"identity is never the UPN", base(`,"time":"2026-05-01T09:00:00Z","identity":"alice"`, ``),
			func(s SignIn) bool { return s.UserPrincipalName == "" }},
		{"escaped strings are decoded", base(`,"time":"2026-05-01T09:00:00Z"`, `,"authenticationProtocol":"\u0072opc"`),
			func(s SignIn) bool { return s.AuthenticationProtocol == "ropc" }},
		{"seven fractional digits are kept", base(`,"time":"2026-05-01T09:00:00.0000001Z"`, ``),
			func(s SignIn) bool { return s.TimeGenerated.Nanosecond() == 100 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, eval, rej := decodeString(t, tt.record)
			if rej != nil || !eval {
				t.Fatalf("eval=%v rej=%v", eval, rej)
			}
			if !tt.check(s) {
				t.Fatalf("decoded %+v", s)
			}
		})
	}
}

func TestDecodeExportRow(t *testing.T) {
	s, cat, eval, rej := decodeString(t, `{"TimeGenerated":"2026-05-01T10:00:00Z","Type":"AADNonInteractiveUserSignInLogs",
		"AuthenticationProtocol":"ROPC","ResultType":"0","AppDisplayName":"curl","UserPrincipalName":"Bob@Contoso.com",
		"IPAddress":"::ffff:198.51.100.1","Location":"US","Id":"i1"}`)
	if rej != nil || !eval || cat != exportType {
		t.Fatalf("cat=%q eval=%v rej=%v", cat, eval, rej)
	}
	if s.UserPrincipalName != "Bob@Contoso.com" || s.AuthenticationProtocol != "ROPC" || s.Location != "US" || s.Id != "i1" {
		t.Fatalf("decoded %+v", s)
	}
	if _, _, eval, rej := decodeString(t, `{"TimeGenerated":"2026-05-01T10:00:00Z","AuthenticationProtocol":"ropc"}`); rej != nil || !eval {
		t.Fatalf("a row without Type is evaluated: eval=%v rej=%v", eval, rej)
	}
}

func TestDecodeSkipsOtherCategories(t *testing.T) {
	tests := []struct{ name, record, category string }{
		{"interactive sign-ins share the hub", `{"category":"SignInLogs","properties":{"authenticationProtocol":"ropc"}}`, "SignInLogs"},
		{"audit logs share the hub", `{"category":"AuditLogs","properties":{}}`, "AuditLogs"},
		{"a diagnostic record without category", `{"properties":{"authenticationProtocol":"ropc"}}`, ""},
		{"another exported table", `{"Type":"SigninLogs","AuthenticationProtocol":"ropc"}`, "SigninLogs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, cat, eval, rej := decodeString(t, tt.record)
			if rej != nil || eval || cat != tt.category {
				t.Fatalf("cat=%q eval=%v rej=%v", cat, eval, rej)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct{ name, record, reason string }{
		{"a boolean ResultType", `{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00Z","resultType":false,"properties":{}}`, "wrong-type:ResultType"},
		{"an object protocol", `{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00Z","properties":{"authenticationProtocol":{}}}`, "wrong-type:AuthenticationProtocol"},
		{"a numeric UPN", `{"TimeGenerated":"2026-05-01T10:00:00Z","UserPrincipalName":7}`, "wrong-type:UserPrincipalName"},
		{"properties as an array", `{"category":"NonInteractiveUserSignInLogs","properties":[]}`, "wrong-type:properties"},
		{"a numeric category", `{"category":4,"properties":{}}`, "wrong-type:category"},
		{"no time at all", `{"category":"NonInteractiveUserSignInLogs","properties":{}}`, "missing-field:TimeGenerated"},
		{"a time that is not RFC 3339", `{"category":"NonInteractiveUserSignInLogs","time":"yesterday","properties":{}}`, "bad-time"},
		{"a time in year 9999", `{"category":"NonInteractiveUserSignInLogs","time":"9999-12-31T23:59:59Z","properties":{}}`, "bad-time"},
		{"a time in year 1", `{"TimeGenerated":"0001-01-01T00:00:00Z"}`, "bad-time"},
		{"a duplicated protocol key", `{"TimeGenerated":"2026-05-01T10:00:00Z","AuthenticationProtocol":"none","AuthenticationProtocol":"ropc"}`, "duplicate-key:AuthenticationProtocol"},
		{"a record that is not an object", `[1,2]`, "not-an-object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, rej := decodeString(t, tt.record)
			if rej == nil || rej.Reason != tt.reason {
				t.Fatalf("reject = %v, want %s", rej, tt.reason)
			}
		})
	}
}

// TestDecodeRealSamples checks the decoder against real Entra records kept
// in the project's shared data folder, where it exists (as in CI).
func TestDecodeRealSamples(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "data")
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(files) == 0 {
		t.Skip("shared sample data not present")
	}
	var n int
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			s, cat, eval, rej := decodeString(t, line)
			if rej != nil || !eval || cat != diagnosticCategory {
				t.Fatalf("%s: cat=%q eval=%v rej=%v", path, cat, eval, rej)
			}
			if s.UserPrincipalName == "" || s.Id == "" || s.IPAddress == "" || s.Location == "" || s.TimeGenerated.IsZero() {
				t.Fatalf("%s: incomplete sign-in %+v", path, s)
			}
			if s.AuthenticationProtocol == "ropc" {
				t.Fatalf("%s: the samples hold no ROPC sign-in", path)
			}
			if mayMatch([]byte(line)) && !strings.Contains(line, `\u`) {
				t.Fatalf("%s: the prefilter passed a record without ropc", path)
			}
			n++
		}
		f.Close()
	}
	if n != 17 {
		t.Fatalf("decoded %d sample records, want 17", n)
	}
}
