package detector

import (
	"bufio"
	"encoding/json"
	"fmt"
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
		{"finer input is truncated to 100 ns before any window is chosen", base(`,"time":"2026-05-01T11:00:00.00000001Z"`, ``),
			func(s SignIn) bool { return s.TimeGenerated.Equal(time.Date(2026, 5, 1, 11, 0, 0, 0, time.UTC)) }},
		{"twelve fractional digits are truncated too", base(`,"time":"2026-05-01T10:59:59.999999999999Z"`, ``),
			func(s SignIn) bool { return s.TimeGenerated.Nanosecond() == 999999900 }},
		{"t and z may be lower case", base(`,"time":"2026-03-10t10:30:00z"`, ``),
			func(s SignIn) bool { return s.TimeGenerated.Equal(time.Date(2026, 3, 10, 10, 30, 0, 0, time.UTC)) }},
		{"an offset of 23:59 is the largest", base(`,"time":"2026-03-10T23:59:00+23:59"`, ``),
			func(s SignIn) bool { return s.TimeGenerated.Equal(time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)) }},
		{"an empty resultType does not fall back to errorCode", base(`,"time":"2026-05-01T09:00:00Z","resultType":""`, `,"status":{"errorCode":0}`),
			func(s SignIn) bool { return s.ResultType == "" }},
		{"a null resultType falls back to errorCode", base(`,"time":"2026-05-01T09:00:00Z","resultType":null`, `,"status":{"errorCode":0}`),
			func(s SignIn) bool { return s.ResultType == "0" }},
		{"an empty ipAddress does not take callerIpAddress", base(`,"time":"2026-05-01T09:00:00Z","callerIpAddress":"10.0.0.1"`, `,"ipAddress":""`),
			func(s SignIn) bool { return s.IPAddress == "" }},
		{"a null ipAddress takes callerIpAddress", base(`,"time":"2026-05-01T09:00:00Z","callerIpAddress":"10.0.0.1"`, `,"ipAddress":null`),
			func(s SignIn) bool { return s.IPAddress == "10.0.0.1" }},
		{"an empty location does not fall back to countryOrRegion", base(`,"time":"2026-05-01T09:00:00Z","location":""`, `,"location":{"countryOrRegion":"IN"}`),
			func(s SignIn) bool { return s.Location == "" }},
		{"a null location falls back to countryOrRegion", base(`,"time":"2026-05-01T09:00:00Z","location":null`, `,"location":{"countryOrRegion":"IN"}`),
			func(s SignIn) bool { return s.Location == "IN" }},
		{"a null time falls back to createdDateTime", base(`,"time":null`, `,"createdDateTime":"2026-05-01T09:00:00Z"`),
			func(s SignIn) bool { return s.TimeGenerated.Equal(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)) }},
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
		{"an empty time does not fall back to createdDateTime", `{"category":"NonInteractiveUserSignInLogs","time":"","properties":{"createdDateTime":"2026-05-01T09:00:00Z"}}`, "bad-time"},
		{"an offset of 24 hours", `{"TimeGenerated":"2026-03-10T10:30:00+24:00"}`, "bad-time"},
		{"an offset of 60 minutes", `{"TimeGenerated":"2026-03-10T10:30:00+23:60"}`, "bad-time"},
		{"a comma before the fraction", `{"TimeGenerated":"2026-03-10T10:30:00,5Z"}`, "bad-time"},
		{"a dot without a fraction", `{"TimeGenerated":"2026-03-10T10:30:00.Z"}`, "bad-time"},
		{"an offset without a colon", `{"TimeGenerated":"2026-03-10T10:30:00+0100"}`, "bad-time"},
		{"a space for the T", `{"TimeGenerated":"2026-03-10 10:30:00Z"}`, "bad-time"},
		{"a leap second", `{"TimeGenerated":"2026-03-10T23:59:60Z"}`, "bad-time"},
		{"a duplicated errorCode", `{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00Z","properties":{"status":{"errorCode":50126,"errorCode":0}}}`, "duplicate-key:errorCode"},
		{"a duplicated countryOrRegion", `{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00Z","properties":{"location":{"countryOrRegion":"US","countryOrRegion":"DE"}}}`, "duplicate-key:countryOrRegion"},
		{"a duplicated properties", `{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00Z","properties":{},"properties":{"authenticationProtocol":"ropc"}}`, "duplicate-key:properties"},
		{"a duplicated status", `{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00Z","properties":{"status":{},"status":{"errorCode":0}}}`, "duplicate-key:status"},
		{"a duplicated category", `{"category":"SignInLogs","category":"NonInteractiveUserSignInLogs","properties":{}}`, "duplicate-key:category"},
		{"a duplicated Type", `{"Type":"SigninLogs","Type":"AADNonInteractiveUserSignInLogs"}`, "duplicate-key:Type"},
		{"status as a string", `{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00Z","properties":{"status":"0"}}`, "wrong-type:status"},
		{"location as an array", `{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00Z","properties":{"location":[]}}`, "wrong-type:location"},
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

// dupPaths are the keys the rule reads, each as the record that holds it
// twice: %s stands for the duplicated key's two members.
var dupPaths = []struct{ key, record string }{
	{"records", `{"records":[` + ropcRecord + `],%s}`},
	{"category", `{"time":"2026-05-01T10:00:00Z",%s,"properties":{"authenticationProtocol":"ropc"}}`},
	{"time", `{"category":"NonInteractiveUserSignInLogs",%s,"properties":{"authenticationProtocol":"ropc"}}`},
	{"resultType", `{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00Z",%s,"properties":{"authenticationProtocol":"ropc"}}`},
	{"callerIpAddress", `{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00Z",%s,"properties":{"authenticationProtocol":"ropc"}}`},
	{"location", `{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00Z",%s,"properties":{"authenticationProtocol":"ropc"}}`},
	{"properties", `{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00Z","authenticationProtocol":"ropc",%s}`},
	{"authenticationProtocol", `{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00Z","properties":{"x":"ropc",%s}}`},
	{"userPrincipalName", `{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00Z","properties":{"authenticationProtocol":"ropc",%s}}`},
	{"ipAddress", `{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00Z","properties":{"authenticationProtocol":"ropc",%s}}`},
	{"errorCode", `{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00Z","properties":{"authenticationProtocol":"ropc","status":{%s}}}`},
	{"countryOrRegion", `{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00Z","properties":{"authenticationProtocol":"ropc","location":{%s}}}`},
	{"Type", `{"TimeGenerated":"2026-05-01T10:00:00Z","AuthenticationProtocol":"ropc",%s}`},
	{"UserPrincipalName", `{"TimeGenerated":"2026-05-01T10:00:00Z","AuthenticationProtocol":"ropc",%s}`},
	{"ResultType", `{"TimeGenerated":"2026-05-01T10:00:00Z","AuthenticationProtocol":"ropc",%s}`},
	{"Id", `{"TimeGenerated":"2026-05-01T10:00:00Z","AuthenticationProtocol":"ropc",%s}`},
}

// FuzzDuplicateKeys duplicates each key the rule reads with two values the
// fuzzer picks: the record (or, for records, the message) is rejected as
// duplicate-key:NAME, never read with either value, whatever the values and
// however the key is spelled with escapes.
func FuzzDuplicateKeys(f *testing.F) {
	f.Add(uint8(0), "a", "b", false)
	f.Add(uint8(10), "50126", "0", true)
	f.Add(uint8(11), "US", "DE", false)
	rule := SeedRule()
	f.Fuzz(func(t *testing.T, path uint8, v1, v2 string, escape bool) {
		p := dupPaths[int(path)%len(dupPaths)]
		key := p.key
		if escape {
			key = fmt.Sprintf(`\u%04x`, key[0]) + key[1:]
		}
		value := func(v string) string {
			b, _ := json.Marshal(v)
			switch p.key {
			case "records":
				return `[` + ropcRecord + `]`
			case "properties":
				return `{"authenticationProtocol":"ropc","userPrincipalName":` + string(b) + `}`
			}
			return string(b)
		}
		members := `"` + key + `":` + value(v1) + `,"` + p.key + `":` + value(v2)
		msg := strings.Replace(p.record, "%s", members, 1)
		if !json.Valid([]byte(msg)) {
			t.Fatalf("test message is not JSON: %s", msg)
		}
		got := scan(&Scanner{Rule: rule, FullDecode: true}, msg)
		if len(got.Events) != 0 || len(got.Rejected) != 1 || got.Rejected[0].Reason != ReasonDuplicateKey+p.key {
			t.Fatalf("events %d, rejected %+v, want duplicate-key:%s for %s", len(got.Events), got.Rejected, p.key, msg)
		}
		if fast := scan(&Scanner{Rule: rule}, msg); len(fast.Events) != 0 {
			t.Fatalf("the prefiltered scan evaluated %s", msg)
		}
	})
}
