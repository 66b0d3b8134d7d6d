package malipo

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestPaymentEntryBalances(t *testing.T) {
	now := time.Now()
	for _, fee := range []int64{0, 15, 1000} {
		p := Payment{ID: "pay_1", MerchantID: "mer_1", Mode: ModeTest, Amount: 1000, Currency: "XOF", Fee: fee}
		e := PaymentEntry("led_1", p, "sandbox", false, now)
		if err := e.Validate(); err != nil {
			t.Errorf("fee %d: %v", fee, err)
		}
		var merchant, fees int64
		for _, po := range e.Postings {
			switch po.Account {
			case MerchantAvailable("mer_1", ModeTest, "XOF"):
				merchant += po.Amount
			case Fees(ModeTest, "XOF"):
				fees += po.Amount
			}
		}
		if merchant != 1000-fee || fees != fee {
			t.Errorf("fee %d: merchant got %d, fees %d", fee, merchant, fees)
		}
	}
}

func TestEntryValidate(t *testing.T) {
	bad := []Entry{
		{ID: "one", Postings: []Posting{{"a", "XOF", 1}}},
		{ID: "unbalanced", Postings: []Posting{{"a", "XOF", 1}, {"b", "XOF", -2}}},
		{ID: "zero", Postings: []Posting{{"a", "XOF", 0}, {"b", "XOF", 0}}},
		{ID: "mixed", Postings: []Posting{{"a", "XOF", 1}, {"b", "KES", -1}}},
		{ID: "noaccount", Postings: []Posting{{"", "XOF", 1}, {"b", "XOF", -1}}},
	}
	for _, e := range bad {
		if err := e.Validate(); err == nil {
			t.Errorf("entry %s validated", e.ID)
		}
	}
}

func TestAccountOwner(t *testing.T) {
	tests := []struct {
		a        Account
		merchant string
		mode     Mode
		bucket   string
	}{
		{MerchantAvailable("mer_1", ModeTest, "XOF"), "mer_1", ModeTest, "available"},
		{MerchantPending("mer_1", ModeLive, "KES"), "mer_1", ModeLive, "pending"},
		{RailClearing("sandbox", ModeTest, "XOF"), "", ModeTest, "clearing"},
		{Fees(ModeLive, "USD"), "", ModeLive, "fees"},
	}
	for _, tt := range tests {
		m, mode, b := tt.a.Owner()
		if m != tt.merchant || mode != tt.mode || b != tt.bucket {
			t.Errorf("%s.Owner() = %q, %q, %q", tt.a, m, mode, b)
		}
	}
}

// Every list of problems in the report makes the audit dirty and is
// named by Problems, so no view of an audit can leave a kind out; only
// Suspense, money waiting for a person's decision, and InboxRetrying,
// outcomes waiting for a retry due in seconds, are not problems.
func TestEveryAuditProblemIsListedAndDirties(t *testing.T) {
	if !(AuditReport{}).Clean() {
		t.Fatal("an empty report is not clean")
	}
	fields := reflect.TypeFor[AuditReport]()
	for i := range fields.NumField() {
		f := fields.Field(i)
		if f.Type != reflect.TypeFor[[]string]() || f.Name == "Suspense" || f.Name == "InboxRetrying" {
			continue
		}
		var r AuditReport
		reflect.ValueOf(&r).Elem().Field(i).Set(reflect.ValueOf([]string{"x_" + f.Name}))
		if r.Clean() {
			t.Errorf("%s alone: clean", f.Name)
		}
		var named []string
		for _, p := range r.Problems() {
			named = append(named, p.IDs...)
		}
		if !slices.Equal(named, []string{"x_" + f.Name}) {
			t.Errorf("%s alone: Problems names %v", f.Name, named)
		}
	}
	if !(AuditReport{Suspense: []string{"suspense:live:suspense:XOF 5000"}}).Clean() {
		t.Error("suspense made the audit dirty")
	}
	if !(AuditReport{InboxRetrying: []string{"ib_1"}}).Clean() {
		t.Error("an outcome waiting for its retry made the audit dirty")
	}
}
