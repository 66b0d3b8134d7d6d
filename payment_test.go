package malipo

import (
	"net/netip"
	"testing"
	"time"
)

func TestPaymentTransitions(t *testing.T) {
	all := []PaymentStatus{PaymentPending, PaymentProcessing, PaymentSucceeded, PaymentFailed, PaymentCancelled, PaymentExpired}
	allowed := map[[2]PaymentStatus]bool{}
	for _, to := range []PaymentStatus{PaymentProcessing, PaymentSucceeded, PaymentFailed, PaymentCancelled, PaymentExpired} {
		allowed[[2]PaymentStatus{PaymentPending, to}] = true
	}
	for _, to := range []PaymentStatus{PaymentSucceeded, PaymentFailed, PaymentCancelled, PaymentExpired} {
		allowed[[2]PaymentStatus{PaymentProcessing, to}] = true
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, from := range all {
		for _, to := range all {
			p := Payment{ID: "pay_1", Status: from}
			err := p.Transition(to, now)
			want := allowed[[2]PaymentStatus{from, to}]
			if (err == nil) != want {
				t.Errorf("%s -> %s: err = %v, want allowed=%v", from, to, err, want)
			}
			if err != nil {
				if KindOf(err) != KindConflict || p.Status != from {
					t.Errorf("%s -> %s: refused transition changed status to %s or has kind %s", from, to, p.Status, KindOf(err))
				}
				continue
			}
			if to.Final() != !p.CompletedAt.IsZero() {
				t.Errorf("%s -> %s: CompletedAt = %v", from, to, p.CompletedAt)
			}
		}
	}
}

func TestValidateReference(t *testing.T) {
	for _, ok := range []string{"order-1", "15947234071471114", "Bookingid23"} {
		if err := ValidateReference(ok); err != nil {
			t.Errorf("ValidateReference(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a\nb", string(make([]byte, 65))} {
		if err := ValidateReference(bad); KindOf(err) != KindInvalid {
			t.Errorf("ValidateReference(%q) kind = %v, want invalid", bad, KindOf(err))
		}
	}
}

func TestValidateURL(t *testing.T) {
	for _, ok := range []string{"", "https://shop.example/return", "http://127.0.0.1:9000/x?a=b"} {
		if err := ValidateURL("return_url", ok); err != nil {
			t.Errorf("ValidateURL(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"shop.example", "ftp://x/y", "javascript:alert(1)", "https://"} {
		if err := ValidateURL("return_url", bad); KindOf(err) != KindInvalid {
			t.Errorf("ValidateURL(%q) kind = %v, want invalid", bad, KindOf(err))
		}
	}
}

func TestParseMSISDN(t *testing.T) {
	tests := []struct {
		raw, region, want string
	}{
		{"+250788120000", "", "+250788120000"},
		{"250788120000", "", "+250788120000"},
		{"0788120000", "RW", "+250788120000"},
		{"+254 712 340 000", "", "+254712340000"},
		{"00225 07 07 12 00 00", "", "+2250707120000"},
	}
	for _, tt := range tests {
		got, err := ParseMSISDN(tt.raw, tt.region)
		if err != nil || got != tt.want {
			t.Errorf("ParseMSISDN(%q, %q) = %q, %v; want %q", tt.raw, tt.region, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "12", "0788120000", "+999123456789", "abc"} {
		if _, err := ParseMSISDN(bad, ""); KindOf(err) != KindInvalid {
			t.Errorf("ParseMSISDN(%q) kind = %v, want invalid", bad, KindOf(err))
		}
	}
	if got := CountryOfMSISDN("+250788120000"); got != "RW" {
		t.Errorf("CountryOfMSISDN = %q, want RW", got)
	}
}

func TestNotifyAddressAllowed(t *testing.T) {
	cases := []struct {
		ip         string
		test, live bool
	}{
		{"8.8.8.8", true, true},
		{"2001:4860:4860::8888", true, true},
		{"127.0.0.1", true, false},
		{"::1", true, false},
		{"10.1.2.3", true, false},
		{"172.16.0.1", true, false},
		{"192.168.1.1", true, false},
		{"fd00:ec2::254", true, false}, // AWS metadata over IPv6 is unique-local
		{"169.254.169.254", false, false},
		{"::ffff:169.254.169.254", false, false},
		{"::ffff:127.0.0.1", true, false},
		{"fe80::1", false, false},
		{"0.0.0.0", false, false},
		{"100.100.100.200", true, false}, // Alibaba metadata, shared space
		{"224.0.0.1", false, false},
		{"64:ff9b::a00:1", true, false},
	}
	for _, c := range cases {
		ip := netip.MustParseAddr(c.ip)
		if got := NotifyAddressAllowed(ModeTest, ip); got != c.test {
			t.Errorf("test mode %s: allowed = %v, want %v", c.ip, got, c.test)
		}
		if got := NotifyAddressAllowed(ModeLive, ip); got != c.live {
			t.Errorf("live mode %s: allowed = %v, want %v", c.ip, got, c.live)
		}
	}
}

func TestSplitMSISDN(t *testing.T) {
	for _, c := range []struct{ in, code, national string }{
		{"+2250707120000", "225", "0707120000"},
		{"+250788312934", "250", "788312934"},
		{"+221770000000", "221", "770000000"},
		{"", "", ""},
	} {
		if code, national := SplitMSISDN(c.in); code != c.code || national != c.national {
			t.Errorf("SplitMSISDN(%q) = %q, %q; want %q, %q", c.in, code, national, c.code, c.national)
		}
	}
}

func TestCallerAllowed(t *testing.T) {
	for _, c := range []struct {
		list, addr string
		want       bool
	}{
		{"", "203.0.113.9", true},
		{"203.0.113.9", "203.0.113.9", true},
		{"203.0.113.9", "203.0.113.10", false},
		{"127.0.0.1, 10.0.0.0/8", "10.20.30.40", true},
		{"10.0.0.0/8", "11.0.0.1", false},
		{"10.0.0.0/8", "::ffff:10.1.1.1", true},
		{"2001:db8::/32", "2001:db8::7", true},
	} {
		if got := CallerAllowed(c.list, netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("CallerAllowed(%q, %s) = %v, want %v", c.list, c.addr, got, c.want)
		}
	}
}
