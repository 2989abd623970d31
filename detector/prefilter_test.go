package detector

import (
	"testing"

	"github.com/tidwall/gjson"
)

func TestMayMatch(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want bool
	}{
		{"diagnostic ropc", `{"properties":{"authenticationProtocol":"ropc"}}`, true},
		{"export ROPC in capitals", `{"AuthenticationProtocol":"ROPC"}`, true},
		{"mixed case and spaces around the colon", `{"authenticationProtocol" :	"rOpC"}`, true},
		{"an escaped value", `{"authenticationProtocol":"r\u006fpc"}`, true},
		{"an escaped key", `{"authenticationProt\u006fcol":"ropc"}`, true},
		{"none", `{"authenticationProtocol":"none"}`, false},
		{"a trailing space is another value", `{"authenticationProtocol":"ropc "}`, false},
		{"ropcx is another value", `{"authenticationProtocol":"ropcx"}`, false},
		{"the BAV2ROPC user agent is a decoy", `{"userAgent":"BAV2ROPC","authenticationProtocol":"none"}`, false},
		{"a policy named for ROPC is a decoy", `{"displayName":"Block ROPC clients","authenticationProtocol":"none"}`, false},
		{"Europcar is a decoy", `{"appDisplayName":"Europcar"}`, false},
		{"an escaped kelvin sign after ropc is another value", `{"authenticationProtocol":"ropc\u212A"}`, false},
		{"a value cut short", `{"authenticationProtocol":"rop`, false},
		{"a number", `{"authenticationProtocol":5}`, false},
		{"an escaped backslash before u0026 escapes nothing", `{"displayName":"iOS \\u0026 Android","authenticationProtocol":"none"}`, false},
		{"an escaped backslash then a real escape", `{"a":"\\\u0072","authenticationProtocol":"none"}`, true},
		{"a non-ASCII escape cannot spell ropc", `{"displayName":"CA \u2013 iOS","authenticationProtocol":"none"}`, false},
		{"an upper-case hex escape of a letter", `{"authenticationProtocol":"\u0052OPC"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mayMatch([]byte(tt.msg)); got != tt.want {
				t.Fatalf("mayMatch(%s) = %v, want %v", tt.msg, got, tt.want)
			}
		})
	}
}

// FuzzPrefilterIsExact checks the prefilter's promise: a message it rejects
// never holds a record whose protocol folds to "ropc".
func FuzzPrefilterIsExact(f *testing.F) {
	for _, s := range []string{
		`{"authenticationProtocol":"ropc"}`, `{"AuthenticationProtocol":"RoPc"}`,
		`{"properties":{"authenticationProtocol":"r\u006fpc"}}`, `{"a":"ropc","AuthenticationProtocol":"none"}`,
		`{"records":[{"properties":{"authenticationProtocol":"ROPC"}}]}`, `{"AuthenticationProtocol" : "ropc"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		if mayMatch([]byte(msg)) || !gjson.Valid(msg) {
			return
		}
		for _, path := range []string{"AuthenticationProtocol", "properties.authenticationProtocol", "records.#.AuthenticationProtocol", "records.#.properties.authenticationProtocol"} {
			for _, v := range gjson.Get(msg, path).Array() {
				if v.Type == gjson.String && equalFoldASCII(v.Str, "ropc") {
					t.Fatalf("prefilter rejected %q holding protocol %q", msg, v.Str)
				}
			}
			if v := gjson.Get(msg, path); v.Type == gjson.String && equalFoldASCII(v.Str, "ropc") {
				t.Fatalf("prefilter rejected %q holding protocol %q", msg, v.Str)
			}
		}
	})
}
