package detector

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustAllowlist(t *testing.T, csv string) *NetworkAllowlist {
	t.Helper()
	a, err := ParseNetworkAllowlist(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestNetworkAllowlistContains(t *testing.T) {
	a := mustAllowlist(t, "\uFEFFsearchkey,Description\n"+
		"10.0.0.1,single v4\n"+
		"192.168.0.0/16,v4 prefix\n"+
		"198.51.100.10 - 198.51.100.20,v4 range with spaces\n"+
		"2001:db8::1,single v6\n"+
		"2001:db8:1::/48,v6 prefix\n"+
		"2001:db8:2::10-2001:db8:2::20,v6 range\n"+
		"::ffff:203.0.113.7,v4-mapped single\n"+
		"::ffff:172.16.0.0/108,v4-mapped prefix (172.16.0.0/12)\n"+
		"  100.64.0.5  ,padded\n"+
		"fe80::1%eth0,zoned\n")
	tests := []struct {
		name string
		ip   string
		want bool
	}{
		{"a single IPv4 entry contains its address", "10.0.0.1", true},
		{"a single IPv4 entry contains nothing else", "10.0.0.2", false},
		{"an IPv4 prefix contains its first address", "192.168.0.0", true},
		{"an IPv4 prefix contains its last address", "192.168.255.255", true},
		{"an IPv4 prefix ends where it ends", "192.169.0.0", false},
		{"a range includes its start", "198.51.100.10", true},
		{"a range includes its end", "198.51.100.20", true},
		{"a range excludes the address before it", "198.51.100.9", false},
		{"a range excludes the address after it", "198.51.100.21", false},
		{"a single IPv6 entry contains its address", "2001:db8::1", true},
		{"IPv6 is compared as an address, not as text", "2001:0db8:0000::0001", true},
		{"an IPv6 prefix contains an address inside", "2001:db8:1:ffff::1", true},
		{"an IPv6 prefix excludes an address outside", "2001:db8:3::1", false},
		{"an IPv6 range includes its end", "2001:db8:2::20", true},
		{"an IPv6 range excludes the address after it", "2001:db8:2::21", false},
		{"a v4-mapped event address matches an IPv4 entry", "::ffff:10.0.0.1", true},
		{"a v4-mapped entry matches the IPv4 address", "203.0.113.7", true},
		{"a v4-mapped entry matches the v4-mapped address", "::ffff:203.0.113.7", true},
		{"a v4-mapped prefix covers its IPv4 equivalent", "172.31.255.255", true},
		{"a v4-mapped prefix ends where its IPv4 equivalent ends", "172.32.0.0", false},
		{"a padded entry is trimmed", "100.64.0.5", true},
		{"a zoned entry matches the address", "fe80::1", true},
		{"an IPv6 address with a zone is never excluded", "2001:db8::1%eth0", false},
		{"an IPv4 address with a zone is never excluded", "10.0.0.1%x", false},
		{"an empty zone is a zone", "10.0.0.1%", false},
		{"an empty address is never excluded", "", false},
		{"an unparsable address is never excluded", "not-an-ip", false},
		{"an address with a port is not an address", "10.0.0.1:443", false},
		{"an address with spaces is not an address", " 10.0.0.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := a.Contains(tt.ip); got != tt.want {
				t.Errorf("Contains(%q) = %v, want %v", tt.ip, got, tt.want)
			}
		})
	}
	if a.Len() != 10 || len(a.Skipped) != 0 {
		t.Errorf("Len() = %d, Skipped = %+v; want 10 and none", a.Len(), a.Skipped)
	}
}

func TestNetworkAllowlistColumns(t *testing.T) {
	tests := []struct {
		name    string
		csv     string
		in, out string
	}{
		{"SearchKey wins over IPOrRange", "IPOrRange,SearchKey\n10.0.0.1,10.0.0.2\n", "10.0.0.2", "10.0.0.1"},
		{"IPOrRange is used without SearchKey", "Name,ipOrRange\noffice,10.0.0.1\n", "10.0.0.1", "office"},
		{"a quoted header and padding are tolerated", "\" SearchKey \"\n\"10.0.0.1\"\n", "10.0.0.1", "10.0.0.2"},
		{"a BOM before IPOrRange is tolerated", "\uFEFFIPOrRange\r\n10.0.0.1\r\n", "10.0.0.1", "10.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustAllowlist(t, tt.csv)
			if !a.Contains(tt.in) || a.Contains(tt.out) {
				t.Errorf("Contains(%q) = %v, Contains(%q) = %v", tt.in, a.Contains(tt.in), tt.out, a.Contains(tt.out))
			}
		})
	}
}

func TestNetworkAllowlistSkipsBadEntries(t *testing.T) {
	a := mustAllowlist(t, "SearchKey,Note\n"+
		"10.0.0.1,good\n"+ // line 2
		"10.0.0.300,bad octet\n"+ // line 3
		"10.0.0.9-10.0.0.1,reversed\n"+ // line 4
		"10.0.0.1-2001:db8::1,mixed\n"+ // line 5
		"\n"+ // line 6: empty lines are not entries
		",no entry\n"+ // line 7
		"10.0.0.0/33,long prefix\n"+ // line 8
		"::ffff:10.1.0.1-10.1.0.5,mapped start\n"+ // line 9
		"\"unterminated\n") // line 10
	want := []SkippedEntry{
		{Line: 3, Value: "10.0.0.300"},
		{Line: 4, Value: "10.0.0.9-10.0.0.1", Reason: "range ends before it starts"},
		{Line: 5, Value: "10.0.0.1-2001:db8::1", Reason: "range mixes IPv4 and IPv6"},
		{Line: 7, Reason: "empty entry"},
		{Line: 8, Value: "10.0.0.0/33"},
		{Line: 10},
	}
	if len(a.Skipped) != len(want) {
		t.Fatalf("Skipped = %+v, want %d entries", a.Skipped, len(want))
	}
	for i, w := range want {
		t.Run(fmt.Sprintf("line %d is skipped and reported", w.Line), func(t *testing.T) {
			got := a.Skipped[i]
			if got.Line != w.Line || got.Value != w.Value || got.Reason == "" || w.Reason != "" && got.Reason != w.Reason {
				t.Errorf("Skipped[%d] = %+v, want %+v", i, got, w)
			}
		})
	}
	if a.Len() != 2 || !a.Contains("10.0.0.1") || !a.Contains("10.1.0.5") || a.Contains("10.0.0.5") {
		t.Errorf("Len() = %d; the good entries must still count", a.Len())
	}
}

func TestNetworkAllowlistEdges(t *testing.T) {
	t.Run("a header without either column is an error naming what it found", func(t *testing.T) {
		_, err := ParseNetworkAllowlist(strings.NewReader("Address,Note\n10.0.0.1,x\n"))
		if err == nil || !strings.Contains(err.Error(), `"Address" "Note"`) || !strings.Contains(err.Error(), "SearchKey") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("an empty file excludes nothing", func(t *testing.T) {
		a := mustAllowlist(t, "")
		if a.Contains("10.0.0.1") || a.Len() != 0 {
			t.Error("an empty allowlist excluded an address")
		}
	})
	t.Run("a header alone excludes nothing", func(t *testing.T) {
		if mustAllowlist(t, "SearchKey\n").Contains("0.0.0.0") {
			t.Error("a header-only allowlist excluded an address")
		}
	})
	t.Run("a nil allowlist excludes nothing", func(t *testing.T) {
		var a *NetworkAllowlist
		if a.Contains("10.0.0.1") || a.Len() != 0 {
			t.Error("a nil allowlist excluded an address")
		}
	})
	t.Run("a whole-space prefix contains every address", func(t *testing.T) {
		a := mustAllowlist(t, "SearchKey\n0.0.0.0/0\n::/0\n")
		for _, ip := range []string{"0.0.0.0", "255.255.255.255", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:1.2.3.4"} {
			if !a.Contains(ip) {
				t.Errorf("Contains(%q) = false", ip)
			}
		}
	})
	t.Run("a file loads from disk", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "NetworkAllowlist.csv")
		if err := os.WriteFile(path, []byte("SearchKey\n10.0.0.0/8\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		a, err := LoadNetworkAllowlist(path)
		if err != nil || !a.Contains("10.1.2.3") {
			t.Errorf("LoadNetworkAllowlist = %v, %v", a, err)
		}
		if _, err := LoadNetworkAllowlist(path + ".missing"); err == nil {
			t.Error("a missing file loaded")
		}
	})
}

func FuzzParseNetworkAllowlist(f *testing.F) {
	f.Add("SearchKey\n10.0.0.1\n10.0.0.0/8\n10.0.0.1-10.0.0.9\n")
	f.Add("IPOrRange,x\n2001:db8::/32,a\n::ffff:1.2.3.4,b\n\"::1 - ::2\",c\n")
	f.Add("\uFEFFSearchKey\r\n\"bad\r\n")
	f.Add("SearchKey\n::ffff:0:0/90\nfe80::1%eth0\n1.2.3.4-::ffff:1.2.3.9\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, csv string) {
		a, err := ParseNetworkAllowlist(strings.NewReader(csv))
		if err != nil {
			return
		}
		if a.Len() != len(a.entries) {
			t.Fatalf("Len() = %d, entries %d", a.Len(), len(a.entries))
		}
		for _, r := range a.entries {
			for _, addr := range []string{r.From().String(), r.To().String()} {
				if !a.Contains(addr) {
					t.Fatalf("entry %s: Contains(%q) = false", r, addr)
				}
			}
		}
	})
}
