package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

func testCards(t *testing.T, s store.Store) {
	m, i := fixture(t, s, "a")
	setup := malipo.CardSetup{ID: "cs_1", MerchantID: m.ID, IntegrationID: i.ID, Mode: malipo.ModeTest,
		Customer: malipo.Customer{Name: "Kaneza", Phone: "+250788312934"}, Reference: "ABCD1", ReturnURL: "https://shop.example/saved",
		Lang: "en", Token: "secret", Status: malipo.CardSetupPending, CreatedAt: epoch, ExpiresAt: epoch.Add(time.Hour)}
	write(t, s, func(tx store.Tx) error { return tx.CreateCardSetup(setup) })
	tokens := []malipo.CardToken{
		{ID: "card_1", MerchantID: m.ID, Mode: malipo.ModeTest, CustomerPhone: "+250788312934", Customer: setup.Customer,
			Scheme: "MASTERCARD", Masked: "555555xxxxxx4444", ExpMonth: 12, ExpYear: 2030, Rail: "sandbox", NetworkToken: "nt_1", CreatedAt: epoch},
		{ID: "card_2", MerchantID: m.ID, Mode: malipo.ModeTest, CustomerPhone: "+250788312934", Scheme: "VISA",
			Masked: "424242xxxxxx4242", ExpMonth: 1, ExpYear: 2031, Rail: "sandbox", NetworkToken: "nt_2", CreatedAt: epoch},
		{ID: "card_3", MerchantID: m.ID, Mode: malipo.ModeLive, CustomerPhone: "+250788312934", Scheme: "VISA",
			Masked: "424242xxxxxx4242", ExpMonth: 1, ExpYear: 2031, Rail: "sandbox", NetworkToken: "nt_3", CreatedAt: epoch},
		{ID: "card_4", MerchantID: m.ID, Mode: malipo.ModeTest, CustomerPhone: "+250788000000", Scheme: "VISA",
			Masked: "424242xxxxxx4242", ExpMonth: 1, ExpYear: 2031, Rail: "sandbox", NetworkToken: "nt_4", CreatedAt: epoch},
	}
	write(t, s, func(tx store.Tx) error {
		got, err := tx.GetCardSetup(setup.ID)
		if err != nil {
			return err
		}
		for _, c := range tokens {
			if err := tx.CreateCardToken(c); err != nil {
				return err
			}
		}
		got.Status, got.CardTokenID = malipo.CardSetupSucceeded, "card_1"
		return tx.UpdateCardSetup(got)
	})
	setup.Status, setup.CardTokenID = malipo.CardSetupSucceeded, "card_1"
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetCardSetup(setup.ID)
		must(t, err)
		if diff := cmp.Diff(setup, got); diff != "" {
			t.Errorf("card setup (-want +got):\n%s", diff)
		}
		c, err := tx.GetCardToken("card_1")
		must(t, err)
		if diff := cmp.Diff(tokens[0], c); diff != "" {
			t.Errorf("card token (-want +got):\n%s", diff)
		}
		list, err := tx.ListCardTokens(m.ID, malipo.ModeTest, "+250788312934")
		must(t, err)
		if len(list) != 2 || list[0].ID != "card_1" || list[1].ID != "card_2" {
			t.Errorf("ListCardTokens = %+v, want card_1 and card_2", list)
		}
		_, err = tx.GetCardToken("card_nope")
		wantKind(t, err, malipo.KindNotFound)
		_, err = tx.GetCardSetup("cs_nope")
		wantKind(t, err, malipo.KindNotFound)
		return nil
	})
	err := s.Transact(context.Background(), func(tx store.Tx) error { return tx.CreateCardToken(tokens[0]) })
	wantKind(t, err, malipo.KindConflict)
	err = s.Transact(context.Background(), func(tx store.Tx) error { return tx.UpdateCardSetup(malipo.CardSetup{ID: "cs_nope"}) })
	wantKind(t, err, malipo.KindNotFound)
}
