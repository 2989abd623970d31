package detector

import (
	"encoding/json"
	"testing"
)

func TestEntities(t *testing.T) {
	tests := []struct {
		name     string
		mappings []EntityMapping
		row      func(*Row)
		want     string
	}{
		{
			name: "a UPN and an IP give an account and an ip",
			row:  func(*Row) {},
			want: `[{"$id":"1","Name":"alice","UPNSuffix":"contoso.com","Type":"account"},{"$id":"2","Address":"203.0.113.10","Type":"ip"}]`,
		},
		{
			name: "a UPN without @ is the Name only",
			row:  func(r *Row) { r.UserPrincipalName = "svc-legacy" },
			want: `[{"$id":"1","Name":"svc-legacy","Type":"account"},{"$id":"2","Address":"203.0.113.10","Type":"ip"}]`,
		},
		{
			name: "the UPN splits at the last @",
			row:  func(r *Row) { r.UserPrincipalName = "a@b@contoso.com" },
			want: `[{"$id":"1","Name":"a@b","UPNSuffix":"contoso.com","Type":"account"},{"$id":"2","Address":"203.0.113.10","Type":"ip"}]`,
		},
		{
			name: "an empty IP gives no ip entity",
			row:  func(r *Row) { r.IPAddress = "" },
			want: `[{"$id":"1","Name":"alice","UPNSuffix":"contoso.com","Type":"account"}]`,
		},
		{
			name: "an empty UPN gives no account and the ip is $id 1",
			row:  func(r *Row) { r.UserPrincipalName = "" },
			want: `[{"$id":"1","Address":"203.0.113.10","Type":"ip"}]`,
		},
		{
			name: "Name and UPNSuffix mapped separately are kept as mapped",
			mappings: []EntityMapping{{EntityType: "Account", FieldMappings: []FieldMapping{
				{Identifier: "Name", ColumnName: "UserPrincipalName"},
				{Identifier: "UPNSuffix", ColumnName: "IPAddress"},
			}}},
			row:  func(*Row) {},
			want: `[{"$id":"1","Name":"alice@contoso.com","UPNSuffix":"203.0.113.10","Type":"account"}]`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRule()
			if tc.mappings != nil {
				r.EntityMappings = tc.mappings
			}
			row := aliceRow()
			tc.row(&row)
			a := r.Alerts([]Row{row}, finalContext())[0]
			got, err := json.Marshal(a.Entities)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("Entities =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
