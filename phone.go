package malipo

import (
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ParseMSISDN validates a mobile number and returns it in E.164 form
// ("+250788120000"). It accepts "+250…", "250…" (country code, no plus, as
// KPay sends) and, when region is set ("RW"), national forms ("0788…").
func ParseMSISDN(raw, region string) (string, error) {
	s := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '(' || r == ')' || r == '.' {
			return -1
		}
		return r
	}, strings.TrimSpace(raw))
	if s == "" {
		return "", Invalid("phone", "parameter_missing", "phone is required")
	}
	var candidates []string
	switch {
	case strings.HasPrefix(s, "+"):
		candidates = []string{s}
	case strings.HasPrefix(s, "00"):
		candidates = []string{"+" + s[2:]}
	case strings.HasPrefix(s, "0") && region != "":
		candidates = []string{s}
	default:
		candidates = []string{"+" + s}
		if region != "" {
			candidates = append(candidates, s)
		}
	}
	for _, c := range candidates {
		reg := region
		if strings.HasPrefix(c, "+") {
			reg = ""
		}
		n, err := phonenumbers.Parse(c, reg)
		if err != nil || !phonenumbers.IsValidNumber(n) {
			continue
		}
		return phonenumbers.Format(n, phonenumbers.E164), nil
	}
	return "", Invalid("phone", "phone_invalid", "phone %q is not a valid mobile number; use the international form, e.g. +250788120000", raw)
}

// CountryOfMSISDN returns the ISO 3166 region of an E.164 number ("RW").
func CountryOfMSISDN(e164 string) string {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	return phonenumbers.GetRegionCodeForNumber(n)
}

// ExampleMSISDN is a mobile number of region ("CI") written the way people
// read it ("+225 01 23 45 6789"), to show a customer the form expected;
// "" for a region unknown.
func ExampleMSISDN(region string) string {
	n := phonenumbers.GetExampleNumberForType(region, phonenumbers.MOBILE)
	if n == nil {
		return ""
	}
	return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
}

// FormatMSISDN writes an E.164 number the way people read it
// ("+225 07 07 12 0000"); anything else comes back as it is.
func FormatMSISDN(e164 string) string {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return e164
	}
	return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
}

// SplitMSISDN splits an E.164 number into its country calling code and
// its national number ("+2250707120000" → "225", "0707120000"); an empty
// number gives two empty strings.
func SplitMSISDN(e164 string) (code, national string) {
	if e164 == "" {
		return "", ""
	}
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return "", strings.TrimPrefix(e164, "+")
	}
	return strconv.Itoa(int(n.GetCountryCode())), phonenumbers.GetNationalSignificantNumber(n)
}

// KnownRegion reports whether region is an ISO 3166 country code with a
// telephone numbering plan ("RW", "SN").
func KnownRegion(region string) bool {
	return len(region) == 2 && phonenumbers.GetCountryCodeForRegion(region) != 0
}

// NationalMSISDN writes an E.164 number as it is dialled within its
// country, digits only ("+221774563209" → "774563209", "+2250707120000"
// → "0707120000"); anything else comes back as it is.
func NationalMSISDN(e164 string) string {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return e164
	}
	return strings.Map(func(r rune) rune {
		if r < '0' || r > '9' {
			return -1
		}
		return r
	}, phonenumbers.Format(n, phonenumbers.NATIONAL))
}
