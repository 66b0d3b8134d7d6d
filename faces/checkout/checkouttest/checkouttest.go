// Package checkouttest drives the checkout pages over plain HTTP, as a
// browser without JavaScript would: the provider faces' end-to-end tests
// pay on the real page with it.
package checkouttest

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var csrfRe = regexp.MustCompile(`name="csrf" value="([0-9a-f]{32})"`)

// PayMobileMoney opens a checkout page and submits its mobile-money form
// with phone, as a customer would. It returns the page the browser lands
// on.
func PayMobileMoney(t testing.TB, pageURL, phone string) string {
	t.Helper()
	return Submit(t, pageURL, "mobile-money", url.Values{"phone": {phone}})
}

// Submit opens a checkout page and submits one of its forms
// ("mobile-money" or "card") with values, as a customer would. It returns
// the page the browser lands on.
func Submit(t testing.TB, pageURL, form string, values url.Values) string {
	t.Helper()
	return SubmitStatus(t, pageURL, form, values, 200)
}

// SubmitStatus is Submit for a form whose answer has the HTTP status want
// (422 for input the customer must fix).
func SubmitStatus(t testing.TB, pageURL, form string, values url.Values, want int) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	page := get(t, client, pageURL)
	m := csrfRe.FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, `action="`) || !strings.Contains(page, "/"+form+`"`) {
		t.Fatalf("no %s form at %s:\n%s", form, pageURL, page)
	}
	values.Set("csrf", m[1])
	res, err := client.PostForm(pageURL+"/"+form, values)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s form: %d, want %d\n%s", form, res.StatusCode, want, b)
	}
	return string(b)
}

// Get returns the page at pageURL.
func Get(t testing.TB, pageURL string) string {
	t.Helper()
	return get(t, http.DefaultClient, pageURL)
}

func get(t testing.TB, client *http.Client, u string) string {
	t.Helper()
	res, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d\n%s", u, res.StatusCode, b)
	}
	return string(b)
}
