package malipo

import "testing"

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in      string
		cur     Currency
		want    int64
		wantErr bool
	}{
		{"34.5", "KES", 3450, false},
		{"34.50", "USD", 3450, false},
		{"5000", "XOF", 5000, false},
		{"5000.00", "XOF", 5000, false},
		{"5000.5", "XOF", 0, true},
		{"0.01", "USD", 1, false},
		{".5", "USD", 50, false},
		{"1.234", "TND", 1234, false},
		{"1.001", "USD", 0, true},
		{"1e3", "USD", 0, true},
		{"abc", "USD", 0, true},
		{"", "USD", 0, true},
		{".", "USD", 0, true},
		{"99999999999999999999", "USD", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDecimal(tt.in, tt.cur)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDecimal(%q, %s) = %d, %v; want %d, err=%v", tt.in, tt.cur, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestFormatDecimal(t *testing.T) {
	tests := []struct {
		amount int64
		cur    Currency
		want   string
	}{
		{3450, "KES", "34.50"},
		{5, "USD", "0.05"},
		{5000, "XOF", "5000"},
		{-150, "USD", "-1.50"},
		{1234, "TND", "1.234"},
	}
	for _, tt := range tests {
		if got := FormatDecimal(tt.amount, tt.cur); got != tt.want {
			t.Errorf("FormatDecimal(%d, %s) = %q, want %q", tt.amount, tt.cur, got, tt.want)
		}
	}
}

func FuzzDecimalRoundTrip(f *testing.F) {
	// The amounts the seed documents show, as clients send them.
	for _, s := range []string{"34.5", "0", "5000", "0.01", "-3", "4200", "4500", "10000", "30000", "100.00", "1e3", " 12 ", "1,000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseDecimal(s, "USD")
		if err != nil {
			return
		}
		back, err := ParseDecimal(FormatDecimal(n, "USD"), "USD")
		if err != nil || back != n {
			t.Fatalf("round trip of %q: %d -> %q -> %d, %v", s, n, FormatDecimal(n, "USD"), back, err)
		}
	})
}

func TestParseCurrency(t *testing.T) {
	if c, err := ParseCurrency("xof"); err != nil || c != "XOF" || c.Exponent() != 0 {
		t.Errorf("ParseCurrency(xof) = %q, %v", c, err)
	}
	if c, err := ParseCurrency("KES"); err != nil || c.Exponent() != 2 {
		t.Errorf("ParseCurrency(KES) = %q (exp %d), %v", c, c.Exponent(), err)
	}
	for _, bad := range []string{"", "XXX", "US", "usdd"} {
		if _, err := ParseCurrency(bad); KindOf(err) != KindInvalid {
			t.Errorf("ParseCurrency(%q) error kind = %v, want invalid", bad, KindOf(err))
		}
	}
}

func TestFeeRule(t *testing.T) {
	tests := []struct {
		rule   FeeRule
		amount int64
		want   int64
	}{
		{FeeRule{}, 1000, 0},
		{FeeRule{BasisPoints: 150}, 1000, 15},
		{FeeRule{BasisPoints: 150}, 1010, 15}, // 15.15 rounds down
		{FeeRule{BasisPoints: 250}, 1010, 25}, // 25.25
		{FeeRule{BasisPoints: 50}, 100, 1},    // 0.5 rounds half up
		{FeeRule{BasisPoints: 100, Fixed: 50}, 1000, 60},
		{FeeRule{Fixed: 500}, 100, 100}, // never more than the amount
	}
	for _, tt := range tests {
		if got := tt.rule.Fee(tt.amount); got != tt.want {
			t.Errorf("%+v.Fee(%d) = %d, want %d", tt.rule, tt.amount, got, tt.want)
		}
	}
}
