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
		if _, yy, _ := strings.Cut(plain, "/"); len(yy) == 2 && (c.Year < 2000 || c.Year > 2099) {
			t.Fatalf("two-digit year of %q read as %d", expiry, c.Year)
		}
	})
}
