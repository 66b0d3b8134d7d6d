package malipo

import (
	"strings"
	"testing"
)

// The numbers the seed documents show, with the region a face reads them in.
var seedNumbers = []struct{ raw, region string }{
	{"0788312934", "RW"}, {"250788312934", ""}, {"0788123457", "RW"}, // KPay
	{"771111111", "SN"}, {"770000000", "SN"}, // PayDunya
	{"+2250707120000", ""}, {"0707120000", "CI"}, // CinetPay
	{"254712345678", ""}, {"0712345678", "KE"}, {"255712345678", ""}, // iPay, ClickPay
	{"00250788120000", ""}, {"+250 788 12 00 00", ""}, {"(078) 812-0000", "RW"},
}

func FuzzParseMSISDN(f *testing.F) {
	for _, n := range seedNumbers {
		f.Add(n.raw, n.region)
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		e164, err := ParseMSISDN(raw, region)
		if err != nil {
			if KindOf(err) != KindInvalid {
				t.Fatalf("ParseMSISDN(%q, %q): %v is not an input error", raw, region, err)
			}
			return
		}
		if !strings.HasPrefix(e164, "+") || strings.Trim(e164[1:], "0123456789") != "" || len(e164) > 16 {
			t.Fatalf("ParseMSISDN(%q, %q) = %q, not E.164", raw, region, e164)
		}
		again, err := ParseMSISDN(e164, "")
		if err != nil || again != e164 {
			t.Fatalf("ParseMSISDN(%q) = %q, %v; an E.164 number must read as itself", e164, again, err)
		}
		code, national := SplitMSISDN(e164)
		if "+"+code+strings.TrimPrefix(national, "0") != e164 && "+"+code+national != e164 {
			t.Fatalf("SplitMSISDN(%q) = %q, %q", e164, code, national)
		}
	})
}

func TestSeedNumbers(t *testing.T) {
	for _, n := range seedNumbers {
		if _, err := ParseMSISDN(n.raw, n.region); err != nil {
			t.Errorf("ParseMSISDN(%q, %q): %v", n.raw, n.region, err)
		}
	}
}

func TestNationalMSISDN(t *testing.T) {
	for in, want := range map[string]string{"+221774563209": "774563209", "+2250707120000": "0707120000", "+250788312934": "0788312934", "nope": "nope"} {
		if got := NationalMSISDN(in); got != want {
			t.Errorf("NationalMSISDN(%q) = %q, want %q", in, got, want)
		}
	}
}

// The example shown to a customer is a mobile number of the region that
// reads back as one; a region unknown has none.
func TestExampleMSISDN(t *testing.T) {
	for _, region := range []string{"CI", "CM", "RW", "KE", "TZ", "UG", "GH", "NG", "ZM", "SN"} {
		ex := ExampleMSISDN(region)
		e164, err := ParseMSISDN(ex, "")
		if err != nil || CountryOfMSISDN(e164) != region {
			t.Errorf("ExampleMSISDN(%q) = %q: parsed %q, %v; want a mobile number of %s", region, ex, e164, err, region)
		}
	}
	if ex := ExampleMSISDN("XX"); ex != "" {
		t.Errorf("ExampleMSISDN(XX) = %q, want none", ex)
	}
}
