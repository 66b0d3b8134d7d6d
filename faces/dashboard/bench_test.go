package dashboard_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/dashboard"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/gateway"
)

// BenchmarkPages renders each dashboard page for a merchant with 10,000
// payments in the store (SQLite), over HTTP on loopback, and reports its
// p99 and its size. The bar: every page under 150 KB and 50 ms at
// p99. go test -bench Pages ./faces/dashboard
func BenchmarkPages(b *testing.B) {
	s := facetest.New(b, 0, 41)
	dashboard.New(s.Service, nil).Register(s.Mux)
	ctx := context.Background()
	integ, _ := s.Integration(b, "Duka la Mama", gateway.IntegrationInput{Flavor: malipo.FlavorNative, Mode: malipo.ModeTest})
	var last malipo.Payment
	for i := range 10_000 {
		req := gateway.PaymentInput{Amount: int64(500 + i), Currency: "XOF", Reference: fmt.Sprintf("order-%05d", i),
			Customer: malipo.Customer{Name: "Awa", Email: fmt.Sprintf("c%d@example.com", i)}}
		if i%10 == 0 {
			req.Method, req.Phone = "mobile_money", "+2250707120000"
		}
		p, _, err := s.Service.CreatePayment(ctx, integ, req, gateway.Idempotency{})
		if err != nil {
			b.Fatal(err)
		}
		if i%10 == 0 {
			last = p
		}
	}
	if _, err := s.Service.CreateUser(ctx, gateway.UserInput{MerchantID: integ.MerchantID, Email: "mama@duka.example", Password: "correct horse battery", Role: malipo.RoleOwner}); err != nil {
		b.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	res, err := client.PostForm(s.Server.URL+"/dashboard/login", url.Values{"email": {"mama@duka.example"}, "password": {"correct horse battery"}})
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	for _, page := range []string{"/dashboard/", "/dashboard/payments", "/dashboard/payments?q=order-04242", "/dashboard/payments?q=c4242%40",
		"/dashboard/payments?status=succeeded&from=2026-03-01&to=2026-03-01", "/dashboard/payments/" + last.ID, "/dashboard/developers",
		"/dashboard/balance?currency=XOF", "/dashboard/refunds", "/dashboard/payouts", "/dashboard/webhooks", "/dashboard/account"} {
		b.Run(page, func(b *testing.B) {
			var took []time.Duration
			size := 0
			for b.Loop() {
				start := time.Now()
				res, err := client.Get(s.Server.URL + page)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, res.Body)
				res.Body.Close()
				took = append(took, time.Since(start))
				if res.StatusCode != 200 {
					b.Fatalf("%s: %d", page, res.StatusCode)
				}
				size = int(n)
			}
			slices.Sort(took)
			p99 := took[len(took)*99/100]
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(size)/1024, "KB")
			if size > 150<<10 {
				b.Errorf("%s is %d KB, over 150 KB", page, size>>10)
			}
		})
	}
}
