package checkout

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzCardForm feeds the card form what a customer's browser may post. It
// never panics; a card it reads has a number without the spaces and
// dashes people type, and a two-digit year is read as this century's.
func FuzzCardForm(f *testing.F) {
	f.Add("4000 0000 0000 0002", "12/30", "123", "Awa Diallo")
	f.Add("5555-5555-5555-4444", "01/2031", "1234", "")
	f.Add("4111111111111111", "1/", "987", "x")
	f.Add("", "/", "", "")
	f.Add("4", "99999999999999999999/1", " 1 ", "\x00")
	f.Add("4111111111111111", "12/+5", "123", "")
	f.Fuzz(func(t *testing.T, number, expiry, cvv, name string) {
		form := url.Values{"number": {number}, "expiry": {expiry}, "cvv": {cvv}, "name": {name}}
		r := httptest.NewRequest("POST", "/pay/x/card", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
		c, err := cardFromForm(r)
		if err != nil {
			return
		}
		if c.Number == "" || strings.ContainsAny(c.Number, " -") || c.CVV == "" {
			t.Fatalf("read number %q, code %q from %q, %q", c.Number, c.CVV, number, cvv)
		}
		plain := strings.NewReplacer(" ", "", "-", "").Replace(expiry)
		if strings.Trim(strings.Replace(plain, "/", "", 1), "0123456789") != "" {
			t.Fatalf("expiry %q read as %d/%d", expiry, c.Month, c.Year)
		}
		if _, yy, _ := strings.Cut(plain, "/"); len(yy) == 2 && (c.Year < 2000 || c.Year > 2099) {
			t.Fatalf("two-digit year of %q read as %d", expiry, c.Year)
		}
	})
}

func TestAcceptLanguage(t *testing.T) {
	for h, want := range map[string]string{
		"fr-CI,fr;q=0.9,en;q=0.8":  "fr",
		"en-GB, fr;q=0.5":          "en",
		"de, en;q=0.2, fr;q=0.3":   "fr",
		"fr;q=0, en;q=0.1":         "en",
		"fr;q=0":                   "",
		"FR;q= 0":                  "",
		"fr;level=1;q=0, en;q=0.1": "en",
		"fr;q=NaN, en;q=0.5":       "en",
		"de-DE":                    "",
		"":                         "",
	} {
		if got := acceptLanguage(h); got != want {
			t.Errorf("acceptLanguage(%q) = %q, want %q", h, got, want)
		}
	}
}

// FuzzAcceptLanguage feeds the browser's Accept-Language header: the page
// is in French, English or, when the header prefers neither, chosen
// otherwise; never in a language the header refuses (q=0).
func FuzzAcceptLanguage(f *testing.F) {
	for _, h := range []string{"fr-CI,fr;q=0.9,en;q=0.8", "en;q=0", "fr;q=1e400", "*;q=0.1", ";,;;q=", "FR ; q = 0.5"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		got := acceptLanguage(h)
		if got != "" && got != "fr" && got != "en" {
			t.Fatalf("acceptLanguage(%q) = %q", h, got)
		}
		if got != "" && !strings.Contains(strings.ToLower(h), got) {
			t.Fatalf("acceptLanguage(%q) = %q, which it does not name", h, got)
		}
		if got != "" && strings.Count(h, ",") == 0 && strings.HasSuffix(strings.ReplaceAll(h, " ", ""), ";q=0") {
			t.Fatalf("acceptLanguage(%q) = %q, which it refuses", h, got)
		}
	})
}
