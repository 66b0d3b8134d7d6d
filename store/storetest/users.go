package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

func testUsersAndSessions(t *testing.T, s store.Store) {
	m, _ := fixture(t, s, "u")
	u := malipo.User{ID: "usr_1", MerchantID: m.ID, Email: "awa@shop.example", PasswordHash: "$argon2id$v=19$…", Role: malipo.RoleOwner, CreatedAt: epoch}
	op := malipo.User{ID: "usr_2", Email: "ops@malipo.example", PasswordHash: "x", Role: malipo.RoleOperator, CreatedAt: epoch}
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateUser(u); err != nil {
			return err
		}
		return tx.CreateUser(op)
	})
	err := s.Transact(t.Context(), func(tx store.Tx) error {
		return tx.CreateUser(malipo.User{ID: "usr_3", MerchantID: m.ID, Email: u.Email, PasswordHash: "y", Role: malipo.RoleViewer, CreatedAt: epoch})
	})
	wantKind(t, err, malipo.KindConflict)
	read(t, s, func(tx store.Tx) error {
		got, err := tx.UserByEmail(u.Email)
		must(t, err)
		if diff := cmp.Diff(u, got); diff != "" {
			t.Errorf("by email (-want +got):\n%s", diff)
		}
		if got, err := tx.GetUser(op.ID); err != nil || got.MerchantID != "" || got.Role != malipo.RoleOperator {
			t.Errorf("operator: %+v %v", got, err)
		}
		_, err = tx.UserByEmail("nobody@x.example")
		wantKind(t, err, malipo.KindNotFound)
		list, err := tx.ListUsers(m.ID)
		must(t, err)
		if len(list) != 1 || list[0].ID != u.ID {
			t.Errorf("merchant's users: %+v", list)
		}
		return nil
	})
	u.DisabledAt, u.Role, u.TOTPSecret, u.TOTPEnabled = epoch.Add(time.Hour), malipo.RoleViewer, "JBSWY3DPEHPK3PXP", true
	write(t, s, func(tx store.Tx) error { return tx.UpdateUser(u) })

	sess := malipo.Session{Hash: "h1", UserID: u.ID, Mode: malipo.ModeTest, CreatedAt: epoch, ExpiresAt: epoch.Add(12 * time.Hour)}
	other := malipo.Session{Hash: "h2", UserID: u.ID, Mode: malipo.ModeLive, CreatedAt: epoch, ExpiresAt: epoch.Add(12 * time.Hour)}
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateSession(sess); err != nil {
			return err
		}
		return tx.CreateSession(other)
	})
	sess.Mode = malipo.ModeLive
	write(t, s, func(tx store.Tx) error { return tx.UpdateSession(sess) })
	write(t, s, func(tx store.Tx) error { return tx.RevokeSessions(u.ID, epoch.Add(time.Minute).UnixMicro()) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetUser(u.ID)
		must(t, err)
		if diff := cmp.Diff(u, got); diff != "" {
			t.Errorf("updated user (-want +got):\n%s", diff)
		}
		for _, h := range []string{"h1", "h2"} {
			got, err := tx.GetSession(h)
			must(t, err)
			if got.RevokedAt != epoch.Add(time.Minute) || got.Active(epoch.Add(2*time.Minute)) {
				t.Errorf("session %s after revocation: %+v", h, got)
			}
		}
		if got, _ := tx.GetSession("h1"); got.Mode != malipo.ModeLive {
			t.Errorf("mode switch not kept: %+v", got)
		}
		_, err = tx.GetSession("nope")
		wantKind(t, err, malipo.KindNotFound)
		return nil
	})
}

func testListMerchantsAndIntegrations(t *testing.T, s store.Store) {
	a, ia := fixture(t, s, "a")
	b, _ := fixture(t, s, "b")
	b.SuspendedAt, b.Name = epoch.Add(time.Hour), "Shop b, renamed"
	write(t, s, func(tx store.Tx) error { return tx.UpdateMerchant(b) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetMerchant(b.ID)
		must(t, err)
		if diff := cmp.Diff(b, got); diff != "" {
			t.Errorf("updated merchant (-want +got):\n%s", diff)
		}
		return nil
	})
	err := s.Transact(t.Context(), func(tx store.Tx) error { return tx.UpdateMerchant(malipo.Merchant{ID: "mer_nope", Name: "x"}) })
	wantKind(t, err, malipo.KindNotFound)
	read(t, s, func(tx store.Tx) error {
		all, err := tx.ListMerchants(store.MerchantFilter{})
		must(t, err)
		if len(all) != 2 || all[0].ID != b.ID || all[1].ID != a.ID {
			t.Errorf("merchants, newest first: %+v", all)
		}
		for q, want := range map[string]int{"shop": 2, "SHOP A": 1, a.ID: 1, "%": 0, "_": 0} {
			got, err := tx.ListMerchants(store.MerchantFilter{Search: q})
			must(t, err)
			if len(got) != want {
				t.Errorf("search %q: %d merchants, want %d", q, len(got), want)
			}
		}
		page, err := tx.ListMerchants(store.MerchantFilter{StartingAfter: b.ID, Limit: 5})
		must(t, err)
		if len(page) != 1 || page[0].ID != a.ID {
			t.Errorf("after %s: %+v", b.ID, page)
		}
		list, err := tx.ListIntegrations(a.ID)
		must(t, err)
		if len(list) != 1 || list[0].ID != ia.ID {
			t.Errorf("integrations of %s: %+v", a.ID, list)
		}
		return nil
	})
	ia.Config, ia.NotifyURL, ia.Rules.MaxPayout = map[string]string{"country": "RW"}, "https://shop.example/ipn", 9000
	write(t, s, func(tx store.Tx) error { return tx.UpdateIntegration(ia) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetIntegration(ia.ID)
		must(t, err)
		if got.Config["country"] != "RW" || got.NotifyURL != "https://shop.example/ipn" || got.Rules.MaxPayout != 9000 {
			t.Errorf("updated integration: %+v", got)
		}
		return nil
	})
}

func testSearchPayments(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "s")
	p1 := payment(i, "pay_01", "order-1")
	p2 := payment(i, "pay_02", "order-2")
	p2.Customer = malipo.Customer{Name: "Kofi", Email: "kofi@example.com"}
	p2.Phone, p2.Method, p2.Operator, p2.Currency = "+233241230000", malipo.ChannelMobileMoney, "mtn-gh", "GHS"
	p2.CreatedAt = epoch.Add(48 * time.Hour)
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreatePayment(p1); err != nil {
			return err
		}
		return tx.CreatePayment(p2)
	})
	ids := func(f store.PaymentFilter) string {
		f.MerchantID, f.Mode = i.MerchantID, i.Mode
		var out string
		read(t, s, func(tx store.Tx) error {
			ps, err := tx.ListPayments(f)
			must(t, err)
			for _, p := range ps {
				out += p.ID + " "
			}
			return nil
		})
		return out
	}
	for name, c := range map[string]struct {
		f    store.PaymentFilter
		want string
	}{
		"by reference":      {store.PaymentFilter{Search: "order-2"}, "pay_02 "},
		"by id":             {store.PaymentFilter{Search: "pay_01"}, "pay_01 "},
		"by email part":     {store.PaymentFilter{Search: "KOFI@"}, "pay_02 "},
		"by phone part":     {store.PaymentFilter{Search: "+23324123"}, "pay_02 "},
		"by method":         {store.PaymentFilter{Method: malipo.ChannelMobileMoney}, "pay_02 "},
		"by operator":       {store.PaymentFilter{Operator: "mtn-gh"}, "pay_02 "},
		"by currency":       {store.PaymentFilter{Currency: "XOF"}, "pay_01 "},
		"from a day after":  {store.PaymentFilter{CreatedFrom: epoch.Add(24 * time.Hour)}, "pay_02 "},
		"to a day after":    {store.PaymentFilter{CreatedTo: epoch.Add(24 * time.Hour)}, "pay_01 "},
		"a LIKE wildcard":   {store.PaymentFilter{Search: "%"}, ""},
		"nothing":           {store.PaymentFilter{Search: "nobody"}, ""},
		"everything, newer": {store.PaymentFilter{}, "pay_02 pay_01 "},
	} {
		if got := ids(c.f); got != c.want {
			t.Errorf("%s: %q, want %q", name, got, c.want)
		}
	}
}

func testMovementsAndRefunds(t *testing.T, s store.Store) {
	m, i := fixture(t, s, "mv")
	avail := malipo.MerchantAvailable(m.ID, malipo.ModeTest, "XOF")
	funding := malipo.SandboxFunding("XOF")
	write(t, s, func(tx store.Tx) error {
		for n, amount := range []int64{1000, 2000, -500} {
			e := malipo.NewEntry(fmt.Sprintf("led_%d", n+1), "topup", "topup", fmt.Sprintf("top_%d", n+1), epoch.Add(time.Duration(n)*time.Minute),
				malipo.Posting{Account: avail, Currency: "XOF", Amount: amount}, malipo.Posting{Account: funding, Currency: "XOF", Amount: -amount})
			if err := tx.PostEntry(e); err != nil {
				return err
			}
		}
		return nil
	})
	read(t, s, func(tx store.Tx) error {
		all, err := tx.ListMovements(store.MovementFilter{Account: avail, Limit: 10})
		must(t, err)
		if len(all) != 3 || all[0].EntryID != "led_3" || all[0].Amount != -500 || all[2].Amount != 1000 || all[0].Kind != "topup" ||
			!all[1].CreatedAt.Equal(epoch.Add(time.Minute)) {
			t.Errorf("movements: %+v", all)
		}
		mid, err := tx.ListMovements(store.MovementFilter{Account: avail, CreatedFrom: epoch.Add(time.Minute), CreatedTo: epoch.Add(time.Minute), Limit: 10})
		must(t, err)
		if len(mid) != 1 || mid[0].EntryID != "led_2" {
			t.Errorf("movements of the second minute: %+v", mid)
		}
		entries, err := tx.ListEntries("top_2")
		must(t, err)
		if len(entries) != 1 || entries[0].ID != "led_2" || len(entries[0].Postings) != 2 || entries[0].Postings[0].Amount != 2000 ||
			entries[0].Postings[1].Account != funding {
			t.Errorf("entries of top_2: %+v", entries)
		}
		older, err := tx.ListMovements(store.MovementFilter{Account: avail, StartingAfter: "led_2", Limit: 10})
		must(t, err)
		if len(older) != 1 || older[0].EntryID != "led_1" {
			t.Errorf("movements before led_2: %+v", older)
		}
		for since, want := range map[string]int64{"led_1": 2500, "led_2": 1500, "led_3": -500, "led_4": 0} {
			got, err := tx.SumMovementsSince(avail, since)
			must(t, err)
			if got != want {
				t.Errorf("sum since %q = %d, want %d", since, got, want)
			}
		}
		return nil
	})
	p := payment(i, "pay_mv", "mv-1")
	p.Status = malipo.PaymentSucceeded
	r1 := malipo.Refund{ID: "re_1", PaymentID: p.ID, MerchantID: m.ID, IntegrationID: i.ID, Mode: malipo.ModeTest, Amount: 100, Currency: "XOF",
		Status: malipo.RefundPending, CreatedAt: epoch, UpdatedAt: epoch}
	r2 := r1
	r2.ID, r2.CreatedAt = "re_2", epoch.Add(time.Hour)
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreatePayment(p); err != nil {
			return err
		}
		if err := tx.CreateRefund(r1); err != nil {
			return err
		}
		return tx.CreateRefund(r2)
	})
	read(t, s, func(tx store.Tx) error {
		for name, c := range map[string]struct {
			f    store.RefundFilter
			want string
		}{
			"all":       {store.RefundFilter{}, "re_2 re_1 "},
			"older":     {store.RefundFilter{StartingAfter: "re_2"}, "re_1 "},
			"from":      {store.RefundFilter{CreatedFrom: epoch.Add(time.Minute)}, "re_2 "},
			"to":        {store.RefundFilter{CreatedTo: epoch}, "re_1 "},
			"live mode": {store.RefundFilter{Mode: malipo.ModeLive}, ""},
		} {
			f := c.f
			f.MerchantID = m.ID
			if f.Mode == "" {
				f.Mode = malipo.ModeTest
			}
			rs, err := tx.ListMerchantRefunds(f)
			must(t, err)
			got := ""
			for _, r := range rs {
				got += r.ID + " "
			}
			if got != c.want {
				t.Errorf("refunds %s: %q, want %q", name, got, c.want)
			}
		}
		return nil
	})
}

func testPaymentStats(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "st")
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	write(t, s, func(tx store.Tx) error {
		for n, c := range []struct {
			at       time.Time
			status   malipo.PaymentStatus
			code, op string
			cur      malipo.Currency
		}{
			{day.Add(time.Hour), malipo.PaymentSucceeded, "", "orange-ci", "XOF"},
			{day.Add(2 * time.Hour), malipo.PaymentFailed, "insufficient_funds", "orange-ci", "XOF"},
			{day.Add(26 * time.Hour), malipo.PaymentSucceeded, "", "mtn-ci", "XOF"},
			{day.Add(27 * time.Hour), malipo.PaymentFailed, "insufficient_funds", "orange-ci", "XOF"},
			{day.Add(28 * time.Hour), malipo.PaymentFailed, "customer_declined", "mtn-ci", "XOF"},
			{day.Add(29 * time.Hour), malipo.PaymentSucceeded, "", "mpesa-ke", "KES"},
			{day.Add(-48 * time.Hour), malipo.PaymentSucceeded, "", "orange-ci", "XOF"},
		} {
			p := payment(i, fmt.Sprintf("pay_st%d", n), fmt.Sprintf("st-%d", n))
			p.CreatedAt, p.Status, p.FailureCode, p.Operator, p.Currency = c.at, c.status, c.code, c.op, c.cur
			if c.status == malipo.PaymentSucceeded {
				p.Fee = 75
			}
			if err := tx.CreatePayment(p); err != nil {
				return err
			}
		}
		return nil
	})
	read(t, s, func(tx store.Tx) error {
		days, failures, err := tx.PaymentStats(i.MerchantID, malipo.ModeTest, "XOF", day, day.AddDate(0, 0, 30))
		must(t, err)
		want := []malipo.DayStats{{Day: day, Payments: 2, Succeeded: 1, Volume: 5000, Fees: 75}, {Day: day.Add(24 * time.Hour), Payments: 3, Succeeded: 1, Volume: 5000, Fees: 75}}
		if diff := cmp.Diff(want, days); diff != "" {
			t.Errorf("days (-want +got):\n%s", diff)
		}
		wantF := []malipo.FailureStats{{Code: "insufficient_funds", Operator: "orange-ci", Count: 2}, {Code: "customer_declined", Operator: "mtn-ci", Count: 1}}
		if diff := cmp.Diff(wantF, failures); diff != "" {
			t.Errorf("failures (-want +got):\n%s", diff)
		}
		// The first day alone: until is where the second begins.
		days, failures, err = tx.PaymentStats(i.MerchantID, malipo.ModeTest, "XOF", day, day.Add(24*time.Hour))
		must(t, err)
		if diff := cmp.Diff(want[:1], days); diff != "" {
			t.Errorf("the first day's (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]malipo.FailureStats{{Code: "insufficient_funds", Operator: "orange-ci", Count: 1}}, failures); diff != "" {
			t.Errorf("the first day's failures (-want +got):\n%s", diff)
		}
		return nil
	})
}
