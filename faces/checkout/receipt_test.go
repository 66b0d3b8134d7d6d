package checkout_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/gateway"
)

// pdfText extracts a PDF's text with poppler's pdftotext, as a reader
// would see it (spaces collapsed).
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("MALIPO_REQUIRE_PDFTOTEXT") != "" {
			t.Fatal("pdftotext (poppler-utils) is required")
		}
		t.Skip("pdftotext (poppler-utils) is not installed")
	}
	in := filepath.Join(t.TempDir(), "receipt.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-layout", "-enc", "UTF-8", in, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(string(out), "\u00a0", " ")), " ")
}

// A succeeded payment has a PDF receipt, in French and in English, that
// says who was paid, for what, how much, when, how and under which
// references; the final page links to it. A payment not paid has none.
func TestReceipt(t *testing.T) {
	p := newPages(t)
	pay := p.create(t, gateway.PaymentInput{Amount: 42300, Currency: "XOF", Reference: "CMD-2291", Description: "Chaussures et chemise",
		Items:    []malipo.Item{{Name: "Chaussures Croco", Quantity: 3, UnitPrice: 10000, Total: 30000}, {Name: "Chemise Glacée", Quantity: 1, UnitPrice: 5000}},
		Taxes:    []malipo.Tax{{Name: "TVA (18%)", Amount: 6300}, {Name: "Livraison", Amount: 1000}},
		Store:    malipo.Store{Name: "Magasin le Choco", Tagline: "L'élégance", PostalAddress: "Dakar Plateau"},
		Customer: malipo.Customer{Name: "Alioune Faye", Email: "aliounefaye@gmail.com"}})
	base := "/pay/" + pay.CheckoutToken
	if pg := p.get(t, base+"/receipt.pdf"); pg.status != 404 {
		t.Errorf("receipt of a payment not paid: %d", pg.status)
	}
	if pg := p.get(t, "/pay/nope/receipt.pdf"); pg.status != 404 {
		t.Errorf("receipt of no payment: %d", pg.status)
	}
	if _, err := p.svc.PayWithMobileMoney(context.Background(), pay.CheckoutToken, "+221771230000", ""); err != nil {
		t.Fatal(err)
	}
	p.clock.Advance(3 * time.Second)
	paid, _ := p.svc.GetPayment(context.Background(), p.integ, pay.ID)
	if paid.Status != malipo.PaymentSucceeded || p.svc.ReceiptURL(paid) != p.srv.URL+base+"/receipt.pdf" {
		t.Fatalf("paid: %s, receipt at %q", paid.Status, p.svc.ReceiptURL(paid))
	}
	if pg := p.get(t, base); !strings.Contains(pg.body, `href="`+base+`/receipt.pdf"`) {
		t.Errorf("the final page does not link to the receipt:\n%s", pg.body)
	}
	when := paid.CompletedAt.UTC()
	for lang, want := range map[string][]string{
		"fr": {"MODE TEST", "Magasin le Choco", "L'élégance", "Dakar Plateau", "Reçu de paiement", "Montant payé 42 300 FCFA",
			"1 mars 2026 à " + when.Format("15:04") + " UTC", "Référence du marchand CMD-2291", "Numéro du reçu " + paid.ID,
			"Orange Money +221 77 123 00 00", "Référence de l'opérateur " + paid.RailReference, "Alioune Faye <aliounefaye@gmail.com>",
			"Chaussures Croco 3 10 000 FCFA 30 000 FCFA", "Chemise Glacée 1 5 000 FCFA 5 000 FCFA", "TVA (18%) 6 300 FCFA",
			"Livraison 1 000 FCFA", "Total 42 300 FCFA", "Payé à Magasin le Choco par Malipo"},
		"en": {"TEST MODE", "Payment receipt", "Amount paid FCFA 42,300", "1 March 2026, " + when.Format("15:04") + " UTC",
			"Merchant's reference CMD-2291", "Operator's reference " + paid.RailReference, "Total FCFA 42,300", "Paid to Magasin le Choco through Malipo"},
	} {
		pg := p.get(t, base+"/receipt.pdf?lang="+lang)
		if pg.status != 200 || pg.header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pg.body, "%PDF-") {
			t.Fatalf("%s receipt: %d %s %.20q", lang, pg.status, pg.header.Get("Content-Type"), pg.body)
		}
		saveOutput(t, "receipt-"+lang+".pdf", []byte(pg.body))
		text := pdfText(t, []byte(pg.body))
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("the %s receipt lacks %q:\n%s", lang, w, text)
			}
		}
	}
}

// saveOutput keeps a file the tests made under test-output, to look at.
func saveOutput(t *testing.T, name string, b []byte) {
	t.Helper()
	facetest.SaveOutput(t, "checkout", name, b)
}
