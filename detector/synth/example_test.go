package synth_test

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/ropcwatch/ropcwatch/detector/synth"
)

// Generate a small stream and print the rule's first expected row.
func ExampleGenerate() {
	truth, err := synth.Generate(context.Background(), synth.Config{Records: 2000, Seed: 1, ROPCRate: 0.02}, io.Discard)
	if err != nil {
		fmt.Println(err)
		return
	}
	r := truth.Rows[0]
	fmt.Println(truth.Stats.Records, "records,", len(truth.Rows), "rows")
	fmt.Println(r.WindowEnd.Format("15:04"), r.UserPrincipalName, r.Count)
	// Output:
	// 2000 records, 17 rows
	// 00:00 Admin.Ops@contoso.com 2
}

// The NetworkAllowlist watchlist the generated corporate networks form.
func ExampleWriteAllowlist() {
	synth.WriteAllowlist(os.Stdout)
	// Output:
	// SearchKey,Description
	// 198.51.100.0/24,HQ egress (London)
	// 203.0.113.10-203.0.113.60,"Branch offices, US and DE"
	// 192.0.2.44,VPN concentrator
	// 2001:db8:ffff::/48,HQ egress (London) IPv6
	// 2001:db8:fffe::7,Jump host
	// 2001:db8:fffd::100-2001:db8:fffd::1ff,Branch offices IPv6
}
