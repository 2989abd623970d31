package synth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// generate runs Generate into memory and fails the test on error.
func generate(t testing.TB, cfg Config) ([]byte, *Truth) {
	t.Helper()
	var buf bytes.Buffer
	truth, err := Generate(context.Background(), cfg, &buf)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", cfg, err)
	}
	return buf.Bytes(), truth
}

// envelope is one line as a consumer decodes it, with every record kept raw.
type envelope struct {
	Records []json.RawMessage `json:"records"`
}

// eachRecord decodes every line as an envelope and calls f on each record.
func eachRecord(t testing.TB, data []byte, f func(line int, rec json.RawMessage)) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 4<<20)
	for line := 1; sc.Scan(); line++ {
		var e envelope
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d is not JSON: %v", line, err)
		}
		for _, r := range e.Records {
			f(line, r)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	base := Config{Records: 3000, Seed: 42, ROPCRate: 0.05}
	tests := []struct {
		name      string
		a, b      Config
		wantEqual bool
	}{
		{"the same config yields the same bytes", base, base, true},
		{"the same config with the allowlist yields the same bytes", base, Config{Records: 3000, Seed: 42, ROPCRate: 0.05, AllowlistIPs: true}, true},
		{"another seed yields another stream", base, Config{Records: 3000, Seed: 43, ROPCRate: 0.05}, false},
		{"explicit defaults equal zero values", Config{Records: 3000, Seed: 42, ROPCRate: 0.05, Users: DefaultUsers, Window: time.Hour, Start: DefaultStart, RecordsPerMessage: IntRange{1, 16}},
			base, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ta := generate(t, tt.a)
			b, tb := generate(t, tt.b)
			if got := bytes.Equal(a, b); got != tt.wantEqual {
				t.Fatalf("outputs equal = %v, want %v", got, tt.wantEqual)
			}
			if tt.wantEqual && tt.a.AllowlistIPs == tt.b.AllowlistIPs && !sameRows(ta.Rows, tb.Rows) {
				t.Fatal("equal outputs with different truths")
			}
		})
	}
}

func TestEnvelopesHoldTheConfiguredNumberOfRecords(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		min, max int
	}{
		{"default envelopes hold 1 to 16 records", Config{Records: 5000, Seed: 1}, 1, 16},
		{"single-record envelopes", Config{Records: 500, Seed: 1, RecordsPerMessage: IntRange{1, 1}}, 1, 1},
		{"large envelopes", Config{Records: 3000, Seed: 1, RecordsPerMessage: IntRange{50, 200}}, 50, 200},
		{"fewer records than one envelope", Config{Records: 3, Seed: 1, RecordsPerMessage: IntRange{10, 10}}, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, truth := generate(t, tt.cfg)
			sc := bufio.NewScanner(bytes.NewReader(data))
			sc.Buffer(nil, 4<<20)
			var sizes []int
			total := 0
			for sc.Scan() {
				if len(sc.Bytes()) > 1<<20 {
					t.Errorf("message %d is %d bytes, above the Event Hubs limit", len(sizes)+1, len(sc.Bytes()))
				}
				var e envelope
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Fatalf("message %d: %v", len(sizes)+1, err)
				}
				sizes = append(sizes, len(e.Records))
				total += len(e.Records)
			}
			if total != tt.cfg.Records || truth.Stats.Records != total || truth.Stats.Messages != len(sizes) {
				t.Fatalf("records = %d (stats %d), messages = %d (stats %d), want %d records", total, truth.Stats.Records, len(sizes), truth.Stats.Messages, tt.cfg.Records)
			}
			for i, n := range sizes[:len(sizes)-1] { // the last one takes what is left
				if n < tt.min || n > tt.max {
					t.Fatalf("message %d holds %d records, want %d..%d", i+1, n, tt.min, tt.max)
				}
			}
			if tt.cfg.RecordsPerMessage == (IntRange{}) {
				sorted := slices.Clone(sizes)
				slices.Sort(sorted)
				if med := sorted[len(sorted)/2]; med < 5 || med > 7 {
					t.Errorf("median envelope holds %d records, want about 6", med)
				}
			}
		})
	}
}

// signInKeys are the keys of a diagnostic-settings sign-in record, as in the
// real samples.
var (
	topKeys = []string{"time", "resourceId", "operationName", "operationVersion", "category", "tenantId", "resultType",
		"resultSignature", "durationMs", "callerIpAddress", "correlationId", "identity", "Level", "location", "properties"}
	propertyKeys = []string{"id", "createdDateTime", "userDisplayName", "userPrincipalName", "userId", "appId", "appDisplayName",
		"ipAddress", "status", "clientAppUsed", "userAgent", "deviceDetail", "location", "mfaDetail", "correlationId",
		"conditionalAccessStatus", "appliedConditionalAccessPolicies", "originalRequestId", "isInteractive", "tokenIssuerName",
		"tokenIssuerType", "authenticationProcessingDetails", "networkLocationDetails", "processingTimeInMilliseconds",
		"riskDetail", "riskLevelAggregated", "riskLevelDuringSignIn", "riskState", "riskEventTypes", "riskEventTypes_v2",
		"resourceDisplayName", "resourceId", "resourceTenantId", "homeTenantId", "authenticationDetails",
		"authenticationRequirementPolicies", "authenticationRequirement", "servicePrincipalId", "userType",
		"flaggedForReview", "isTenantRestricted", "autonomousSystemNumber", "crossTenantAccessType", "privateLinkDetails",
		"ssoExtensionVersion", "uniqueTokenIdentifier", "incomingTokenType", "authenticationProtocol"}
	newKeys = []string{"uniqueTokenIdentifier", "incomingTokenType", "authenticationProtocol"}
)

var (
	timeRe    = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$`)
	createdRe = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+00:00$`)
)

func TestRecordsHaveTheRealFieldSet(t *testing.T) {
	t.Parallel()
	data, _ := generate(t, Config{Records: 4000, Seed: 3, ROPCRate: 0.02})
	categories := map[string]int{}
	oldShape := 0
	eachRecord(t, data, func(line int, raw json.RawMessage) {
		var top map[string]json.RawMessage
		if err := json.Unmarshal(raw, &top); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		var cat, tm string
		json.Unmarshal(top["category"], &cat)
		json.Unmarshal(top["time"], &tm)
		categories[cat]++
		var props map[string]json.RawMessage
		if err := json.Unmarshal(top["properties"], &props); err != nil {
			t.Fatalf("line %d: properties: %v", line, err)
		}
		var created string
		json.Unmarshal(props["createdDateTime"], &created)
		if !timeRe.MatchString(tm) || !createdRe.MatchString(created) || tm[:27] != created[:27] {
			t.Fatalf("line %d: time %q, createdDateTime %q: want the same instant, 7 digits, Z and +00:00", line, tm, created)
		}
		var id, uti string
		json.Unmarshal(props["id"], &id)
		json.Unmarshal(props["uniqueTokenIdentifier"], &uti)
		if want := base64Std(id); uti != "" && uti != want {
			t.Fatalf("line %d: uniqueTokenIdentifier %q, want base64 of id %q", line, uti, want)
		}
		if cat == catServicePrincipal {
			return
		}
		for _, k := range topKeys {
			if _, ok := top[k]; !ok {
				t.Fatalf("line %d: %s record lacks %q", line, cat, k)
			}
		}
		_, hasProtocol := props["authenticationProtocol"]
		if !hasProtocol {
			oldShape++
		}
		for _, k := range propertyKeys {
			if _, ok := props[k]; !ok && (hasProtocol || !slices.Contains(newKeys, k)) {
				t.Fatalf("line %d: %s record lacks properties.%s", line, cat, k)
			}
		}
		var policies []struct {
			ID, DisplayName, Result                        string
			EnforcedGrantControls, EnforcedSessionControls []string
			ConditionsSatisfied, ConditionsNotSatisfied    *int
		}
		if err := json.Unmarshal(props["appliedConditionalAccessPolicies"], &policies); err != nil || len(policies) < 5 {
			t.Fatalf("line %d: %d policies (%v), want at least 5", line, len(policies), err)
		}
		for _, p := range policies {
			if p.ID == "" || p.DisplayName == "" || p.Result == "" || p.EnforcedGrantControls == nil || p.EnforcedSessionControls == nil || p.ConditionsSatisfied == nil {
				t.Fatalf("line %d: incomplete policy %+v", line, p)
			}
		}
	})
	for _, c := range []string{catNonInteractive, catInteractive, catServicePrincipal} {
		if categories[c] == 0 {
			t.Errorf("no %s records: %v", c, categories)
		}
	}
	if share := float64(categories[catInteractive]) / 4000; share < 0.01 || share > 0.03 {
		t.Errorf("SignInLogs share %.3f, want about 0.02", share)
	}
	if oldShape == 0 {
		t.Error("no record in the older shape without authenticationProtocol")
	}
}

func TestMedianRecordSizeIsAboutFourKilobytes(t *testing.T) {
	data, _ := generate(t, Config{Records: 5000, Seed: 5})
	var sizes []int
	eachRecord(t, data, func(_ int, raw json.RawMessage) { sizes = append(sizes, len(raw)) })
	slices.Sort(sizes)
	if med := sizes[len(sizes)/2]; med < 3000 || med > 5000 {
		t.Fatalf("median record is %d bytes, want 3000..5000", med)
	}
}

func TestROPCShareFollowsTheRate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		rate float64
		n    int
	}{{0.005, 20000}, {0.05, 8000}, {0.2, 4000}} {
		rate, n := tt.rate, tt.n
		t.Run(fmt.Sprintf("a rate of %g gives that share", rate), func(t *testing.T) {
			data, truth := generate(t, Config{Records: n, Seed: 11, ROPCRate: rate})
			ropc := 0
			eachRecord(t, data, func(_ int, raw json.RawMessage) {
				r := decodeRecord(t, raw)
				if r.Category == catNonInteractive && r.Properties.AuthenticationProtocol != nil && asciiEqualFold(*r.Properties.AuthenticationProtocol, "ropc") {
					ropc++
				}
			})
			if ropc != truth.Stats.ROPC {
				t.Errorf("counted %d ROPC records, stats say %d", ropc, truth.Stats.ROPC)
			}
			// The boundary records come on top; allow four standard deviations.
			want := rate * float64(n)
			if tol := 4*sqrt(want) + 10; float64(ropc) < want-tol || float64(ropc) > want+tol {
				t.Errorf("%d ROPC records, want %.0f ± %.0f", ropc, want, tol)
			}
		})
	}
}

func sqrt(x float64) float64 {
	z := x
	for i := 0; i < 30 && z > 0; i++ {
		z = (z + x/z) / 2
	}
	return z
}

func TestDecoysAndEdgeCasesAppear(t *testing.T) {
	t.Parallel()
	data, truth := generate(t, Config{Records: 20000, Seed: 9, ROPCRate: 0.03})
	counts := map[string]int{}
	eachRecord(t, data, func(_ int, raw json.RawMessage) {
		r := decodeRecord(t, raw)
		p := r.Properties
		proto := ""
		if p.AuthenticationProtocol != nil {
			proto = *p.AuthenticationProtocol
		}
		isROPC := asciiEqualFold(proto, "ropc")
		success := string(r.ResultType) == `"0"`
		mark := func(name string, ok bool) {
			if ok {
				counts[name]++
			}
		}
		mark("app Europcar", p.AppDisplayName == "Europcar" && !isROPC)
		mark("user agent BAV2ROPC on a non-ROPC sign-in", p.UserAgent == "BAV2ROPC" && !isROPC)
		mark("UPN ropc.tester on a non-ROPC sign-in", strings.HasPrefix(p.UserPrincipalName, "ropc.tester@") && !isROPC)
		mark("policy Block ROPC clients", bytes.Contains(raw, []byte(`"displayName":"Block ROPC clients"`)))
		mark("ropc inside other fields", !isROPC && (bytes.Contains(raw, []byte("ROPC-LAB-")) || bytes.Contains(raw, []byte("ropc-legacy-api"))))
		mark("protocol with a trailing space", proto == "ropc " && success)
		mark("successful ROPC in SignInLogs", r.Category == catInteractive && isROPC && success)
		mark("protocol in upper or mixed case", isROPC && proto != "ropc" && success)
		mark("failed ROPC", isROPC && !success)
		mark("allowlisted app in another case", isROPC && success && p.AppDisplayName != "" && strings.ToUpper(p.AppDisplayName) == p.AppDisplayName)
		mark("app with a Kelvin sign", isROPC && strings.Contains(p.AppDisplayName, "\u212A"))
		mark("IPv4-mapped IPv6 address", isROPC && strings.HasPrefix(p.IPAddress, "::ffff:"))
		mark("IPv6 address", strings.Contains(p.IPAddress, ":") && !strings.HasPrefix(p.IPAddress, "::ffff:"))
		mark("event exactly on a window boundary", strings.HasSuffix(r.Time, ":00:00.0000000Z") && isROPC)
		mark("numeric errorCode 0 with resultType \"0\"", string(p.Status.ErrorCode) == "0" && success)
		mark("string needing escapes", bytes.Contains(raw, []byte(`\"`)) || bytes.Contains(raw, []byte(`\\`)))
		mark("non-ASCII text", bytes.ContainsFunc(raw, func(r rune) bool { return r > 0x7f }))
	})
	for _, name := range []string{
		"app Europcar", "user agent BAV2ROPC on a non-ROPC sign-in", "UPN ropc.tester on a non-ROPC sign-in",
		"policy Block ROPC clients", "ropc inside other fields", "protocol with a trailing space",
		"successful ROPC in SignInLogs", "protocol in upper or mixed case", "failed ROPC", "allowlisted app in another case",
		"app with a Kelvin sign", "IPv4-mapped IPv6 address", "IPv6 address", "event exactly on a window boundary",
		"numeric errorCode 0 with resultType \"0\"", "string needing escapes", "non-ASCII text",
	} {
		t.Run(name+" appears", func(t *testing.T) {
			if counts[name] == 0 {
				t.Fatalf("none in 20000 records: %v", counts)
			}
		})
	}
	t.Run("some records are redelivered", func(t *testing.T) {
		if truth.Stats.Redelivered == 0 {
			t.Fatal("no redelivered record")
		}
	})
}

func TestEventTimeMostlyIncreases(t *testing.T) {
	t.Parallel()
	const n = 10000
	data, truth := generate(t, Config{Records: n, Seed: 4})
	var prev time.Time
	back, first := 0, time.Time{}
	var last time.Time
	eachRecord(t, data, func(line int, raw json.RawMessage) {
		tm, err := time.Parse(time.RFC3339Nano, decodeRecord(t, raw).Time)
		if err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		if first.IsZero() {
			first = tm
		}
		last = tm
		if tm.Before(prev) {
			back++
			// Jitter is up to 3s; redelivered records are at most 10 minutes old.
			if d := prev.Sub(tm); d > 4*time.Second && truth.Stats.Redelivered == 0 {
				t.Fatalf("line %d goes back %v", line, d)
			}
		}
		prev = tm
	})
	if back == 0 || back > n/10 {
		t.Errorf("%d of %d records go back in time, want a few", back, n)
	}
	if span := last.Sub(first); span < 3*time.Hour || span > 4*time.Hour {
		t.Errorf("stream spans %v, want about 3.5 windows", span)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"negative records", Config{Records: -1}, "Records"},
		{"a rate above one", Config{Records: 1, ROPCRate: 1.5}, "ROPCRate"},
		{"a negative event rate", Config{Records: 1, Rate: -1}, "Rate"},
		{"negative users", Config{Records: 1, Users: -1}, "Users"},
		{"negative attacked users", Config{Records: 1, AttackedUsers: -2}, "AttackedUsers"},
		{"min above max", Config{Records: 1, RecordsPerMessage: IntRange{9, 3}}, "RecordsPerMessage"},
		{"envelopes above the message limit", Config{Records: 1, RecordsPerMessage: IntRange{1, 500}}, "RecordsPerMessage"},
		{"a negative window", Config{Records: 1, Window: -time.Hour}, "Window"},
		{"a window finer than the timestamps", Config{Records: 1, Window: 150 * time.Nanosecond}, "Window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tt.field+" ") {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tt.field)
			}
			if _, err := Generate(context.Background(), tt.cfg, &bytes.Buffer{}); err == nil {
				t.Fatal("Generate accepted an invalid config")
			}
		})
	}
	t.Run("the zero config but Records is valid", func(t *testing.T) {
		if err := (Config{Records: 10}).Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestGenerateStopsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, Config{Records: 1000}, &bytes.Buffer{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Generate = %v, want context.Canceled", err)
	}
}

func TestGenerateEachHandsOutWhatGenerateWrites(t *testing.T) {
	cfg := Config{Records: 3000, Seed: 5}
	var want bytes.Buffer
	wantTruth, err := Generate(context.Background(), cfg, &want)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	records := 0
	truth, err := GenerateEach(context.Background(), cfg, func(line []byte, n int) error {
		if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
			t.Fatalf("line %q is not one line", line)
		}
		got.Write(line)
		records += n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) || truth.Stats != wantTruth.Stats {
		t.Fatal("GenerateEach differs from Generate")
	}
	if records != cfg.Records {
		t.Fatalf("records per line add up to %d, want %d", records, cfg.Records)
	}
	stop := errors.New("stop")
	if _, err := GenerateEach(context.Background(), cfg, func([]byte, int) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("GenerateEach = %v, want the error of fn", err)
	}
}
