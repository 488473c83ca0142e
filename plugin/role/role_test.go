package role

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		provider string
		names    []string
		allowed  []string
		max      string
		err      string
	}{
		{"vcf", []string{"VIEWER"}, []string{Viewer}, "VIEWER", ""},
		{"vcf", []string{"operator"}, []string{Viewer, Operator}, "OPERATOR", ""},
		{"vcf", []string{"ADMIN"}, VCF, "ADMIN", ""},
		{"vcf", []string{"READER"}, nil, "", `"READER" is not one of VIEWER, OPERATOR, ADMIN`},
		{"vcf", []string{"VIEWER", "OPERATOR"}, nil, "", "takes one role for vcf"},
		{"vcd", []string{"vApp Author"}, []string{"Console Access Only", "vApp User", "vApp Author"}, "vApp Author", ""},
		{"vcd", []string{"system administrator"}, VCD, "System Administrator", ""},
		{"vcd", []string{"vApp User", "Custom Reader"}, []string{"vApp User", "Custom Reader"}, "[vApp User, Custom Reader]", ""},
		{"vcd", []string{"Custom Reader"}, nil, "", `max_role: ["Custom Reader"]`},
		{"vcd", []string{"vApp User", " "}, nil, "", "empty role name"},
		{"vcd", nil, nil, "", "must name a role"},
		{"vault", []string{"ADMIN"}, nil, "", "not supported"},
	} {
		l, err := Parse(tc.provider, tc.names)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%s, %q) = %v, want an error with %q", tc.provider, tc.names, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(l.Allowed, tc.allowed) || l.Max != tc.max {
			t.Errorf("Parse(%s, %q) = %+v, %v; want %v %q", tc.provider, tc.names, l, err, tc.allowed, tc.max)
		}
	}
}

func TestAllows(t *testing.T) {
	vApp, _ := Parse("vcd", []string{"vApp User"})
	list, _ := Parse("vcd", []string{"vApp User", "Custom Reader"})
	for _, tc := range []struct {
		l     Limit
		roles []string
		want  bool
	}{
		{Limit{}, nil, true},
		{Limit{}, []string{Admin}, true},
		{vApp, []string{"vapp user"}, true},
		{vApp, []string{"Console Access Only"}, true},
		{vApp, []string{"vApp Author"}, false},
		{vApp, nil, false},
		{list, []string{"Custom Reader", "vApp User"}, true},
		{list, []string{"Custom Reader", "Organization Administrator"}, false},
	} {
		if got := tc.l.Allows(tc.roles); got != tc.want {
			t.Errorf("%q allows %q = %v, want %v", tc.l.Max, tc.roles, got, tc.want)
		}
	}
}
