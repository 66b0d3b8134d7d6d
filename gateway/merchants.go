package gateway

import (
	"context"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// CreateMerchant registers a merchant. logoURL, optional, is an https image
// shown on checkout pages.
func (s *Service) CreateMerchant(ctx context.Context, name, logoURL string) (malipo.Merchant, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return malipo.Merchant{}, malipo.Invalid("name", "parameter_invalid", "name is required (at most 200 characters)")
	}
	if err := malipo.ValidateURL("logo_url", logoURL); err != nil {
		return malipo.Merchant{}, err
	}
	if logoURL != "" && !strings.HasPrefix(logoURL, "https://") {
		return malipo.Merchant{}, malipo.Invalid("logo_url", "url_invalid", "logo_url must be an https URL: checkout pages load nothing insecure")
	}
	m := malipo.Merchant{ID: s.cfg.IDs.ID("mer"), Name: name, LogoURL: logoURL, CreatedAt: s.now()}
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) error { return tx.CreateMerchant(m) })
	return m, err
}

// Demo is the merchant made at first start.
type Demo struct {
	Merchant    malipo.Merchant
	Integration malipo.Integration
	SecretKey   string
}

// EnsureDemo creates a demo merchant with a native test key if the store
// has no merchant at all; it returns nil when the store was not empty.
func (s *Service) EnsureDemo(ctx context.Context) (*Demo, error) {
	var n int
	if err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		n, err = tx.CountMerchants()
		return err
	}); err != nil || n > 0 {
		return nil, err
	}
	m, err := s.CreateMerchant(ctx, "Demo Shop", "")
	if err != nil {
		return nil, err
	}
	integ, creds, err := s.CreateIntegration(ctx, IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest})
	if err != nil {
		return nil, err
	}
	return &Demo{Merchant: m, Integration: integ, SecretKey: creds["secret_key"]}, nil
}

// ListMerchants lists merchants, newest first (the operator's view).
func (s *Service) ListMerchants(ctx context.Context, f store.MerchantFilter) ([]malipo.Merchant, error) {
	if err := checkPage(&f.Limit); err != nil {
		return nil, err
	}
	var out []malipo.Merchant
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		out, err = tx.ListMerchants(f)
		return err
	})
	return out, err
}

// Merchant reads a merchant.
func (s *Service) Merchant(ctx context.Context, id string) (malipo.Merchant, error) {
	var m malipo.Merchant
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		m, err = tx.GetMerchant(id)
		return err
	})
	return m, err
}

// SuspendMerchant suspends a merchant (its keys stop working, its users
// cannot sign in, with an error that says why) or lifts the suspension.
// Other nodes see it within a minute; this one at once.
func (s *Service) SuspendMerchant(ctx context.Context, id string, suspend bool) (malipo.Merchant, error) {
	var m malipo.Merchant
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) (err error) {
		if m, err = tx.GetMerchant(id); err != nil {
			return err
		}
		switch {
		case suspend && m.SuspendedAt.IsZero():
			m.SuspendedAt = s.now()
		case !suspend:
			m.SuspendedAt = time.Time{}
		}
		return tx.UpdateMerchant(m)
	})
	if err == nil {
		s.forgetKeys()
	}
	return m, err
}
