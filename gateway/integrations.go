package gateway

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// IntegrationInput describes a new integration.
type IntegrationInput struct {
	MerchantID string
	Flavor     malipo.Flavor
	Mode       malipo.Mode
	NotifyURL  string
	Fee        malipo.FeeRule
	Rules      malipo.Rules
	// Country is the integration's home country (ISO 3166): where numbers
	// written without their country code are read. Empty: the flavor's.
	Country string
	// Payouts, when set, enables or disables sending money out; nil
	// leaves the flavor's default (off for PayDunya, on for the rest).
	Payouts *bool
	// Currency is the account currency of a CinetPay integration (XOF by
	// default): the only one its payments may use.
	Currency string
	// CardCallbackURL, for ClickPay, is where card payments' GET callbacks
	// go (default: NotifyURL, where mobile-money IPNs go).
	CardCallbackURL string
	// AllowIPs, for flavors whose providers allow-list callers (KPay,
	// iPay), are the addresses or CIDR ranges calls may come from; empty
	// allows any.
	AllowIPs []string
}

// Credentials are what a new integration's owner is shown once.
type Credentials map[string]string

// CreateIntegration adds an integration to a merchant and returns its
// credentials, in the flavor's own shape, as the face that registered the
// flavor mints them. The secrets that identify the integration are kept
// only as hashes.
func (s *Service) CreateIntegration(ctx context.Context, in IntegrationInput) (malipo.Integration, Credentials, error) {
	flavor, ok := s.flavors.get(in.Flavor)
	if !ok {
		return malipo.Integration{}, nil, malipo.Invalid("flavor", "flavor_unsupported", "flavor %q is not supported", in.Flavor)
	}
	if _, err := malipo.ParseMode(string(in.Mode)); err != nil {
		return malipo.Integration{}, nil, err
	}
	if err := malipo.ValidateURL("notify_url", in.NotifyURL); err != nil {
		return malipo.Integration{}, nil, err
	}
	if in.NotifyURL != "" {
		if err := checkNotifyHost("notify_url", in.Mode, in.NotifyURL); err != nil {
			return malipo.Integration{}, nil, err
		}
	}
	fees := []malipo.FeeRule{in.Fee}
	for _, f := range in.Rules.Fees {
		fees = append(fees, f)
	}
	for _, f := range fees {
		if f.BasisPoints < 0 || f.BasisPoints > 10000 || f.Fixed < 0 {
			return malipo.Integration{}, nil, malipo.Invalid("fee", "parameter_invalid", "fees must be 0-10000 basis points and a non-negative fixed amount")
		}
	}
	for ch := range in.Rules.Fees {
		if ch != "payout" && ch != string(malipo.ChannelMobileMoney) && ch != string(malipo.ChannelCard) {
			return malipo.Integration{}, nil, malipo.Invalid("fees", "parameter_invalid", "fees are set per mobile_money, card or payout, not %q", ch)
		}
	}
	if r := in.Rules; r.SettlementDelay < 0 || r.PayoutsPerDestination < 0 || r.PayoutWindow < 0 || r.MaxPayout < 0 {
		return malipo.Integration{}, nil, malipo.Invalid("rules", "parameter_invalid", "settlement delay, velocity and maximum payout cannot be negative")
	}
	now := s.now()
	integ := malipo.Integration{
		ID: s.cfg.IDs.ID("int"), MerchantID: in.MerchantID, Flavor: in.Flavor, Mode: in.Mode,
		Config: map[string]string{"webhook_secret": s.newSecret()}, NotifyURL: in.NotifyURL, Fee: in.Fee, Rules: in.Rules, CreatedAt: now,
	}
	if c := normalizeCountry(in.Country); c != "" {
		if !malipo.KnownRegion(c) {
			return malipo.Integration{}, nil, malipo.Invalid("country", "country_invalid", "%q is not an ISO 3166 country code with a telephone numbering plan", in.Country)
		}
		integ.Config[configCountry] = c
	}
	if in.Payouts != nil {
		integ.Config[configPayouts] = map[bool]string{true: "on", false: "off"}[*in.Payouts]
	}
	if len(in.AllowIPs) > 0 {
		for _, a := range in.AllowIPs {
			if _, err := netip.ParsePrefix(a); err != nil {
				if _, err := netip.ParseAddr(a); err != nil {
					return malipo.Integration{}, nil, malipo.Invalid("allow_ip", "parameter_invalid", "%q is neither an IP address nor a CIDR range", a)
				}
			}
		}
		integ.Config["allow_ips"] = strings.Join(in.AllowIPs, ",")
	}
	keys, creds, err := flavor.Mint(s.cfg.IDs, in, &integ)
	if err != nil {
		return malipo.Integration{}, nil, err
	}
	err = s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		if _, err := tx.GetMerchant(in.MerchantID); err != nil {
			return err
		}
		if err := tx.CreateIntegration(integ); err != nil {
			return err
		}
		for _, key := range keys {
			if err := tx.CreateAPIKey(malipo.APIKey{Hash: HashKey(key), IntegrationID: integ.ID, Hint: keyHint(key), CreatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return malipo.Integration{}, nil, fmt.Errorf("create integration: %w", err)
	}
	return integ, creds, nil
}

// keyCacheTTL bounds how long a key stays usable after it is revoked on
// another node.
const keyCacheTTL = time.Minute

// Authenticate finds the native integration a secret key belongs to.
func (s *Service) Authenticate(ctx context.Context, key string) (malipo.Integration, error) {
	unauthorized := malipo.Errorf(malipo.KindUnauthorized, "invalid_api_key", "the API key is missing or invalid")
	if !strings.HasPrefix(key, "sk_test_") && !strings.HasPrefix(key, "sk_live_") {
		return malipo.Integration{}, unauthorized
	}
	integ, err := s.IntegrationBySecret(ctx, key)
	if malipo.KindOf(err) == malipo.KindNotFound || (err == nil && (integ.Flavor != malipo.FlavorNative ||
		!strings.HasPrefix(key, "sk_"+string(integ.Mode)+"_"))) {
		return malipo.Integration{}, unauthorized
	}
	return integ, err
}

// IntegrationBySecret finds the integration a secret identifies (native
// secret key, PayDunya private key …), whatever its flavor: faces check
// the flavor and the rest of their credentials. Found integrations are
// cached for a minute; an unknown secret is an error of kind not_found.
func (s *Service) IntegrationBySecret(ctx context.Context, secret string) (malipo.Integration, error) {
	hash := HashKey(secret)
	now := s.now()
	if c, ok := s.keys.Load(hash); ok && now.Before(c.(cachedKey).until) {
		return c.(cachedKey).integration, nil
	}
	var integ malipo.Integration
	var key malipo.APIKey
	var merchant malipo.Merchant
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		if key, err = tx.GetAPIKey(hash); err != nil {
			return err
		}
		if integ, err = tx.GetIntegration(key.IntegrationID); err != nil {
			return err
		}
		merchant, err = tx.GetMerchant(integ.MerchantID)
		return err
	})
	if err != nil {
		return malipo.Integration{}, err
	}
	if !key.Works(now) {
		return malipo.Integration{}, &malipo.Error{Kind: malipo.KindNotFound, Code: "resource_missing", Message: "api key not found"}
	}
	if !merchant.SuspendedAt.IsZero() {
		return malipo.Integration{}, malipo.ErrMerchantSuspended
	}
	until := now.Add(keyCacheTTL)
	if !key.ExpiresAt.IsZero() && key.ExpiresAt.Before(until) {
		until = key.ExpiresAt
	}
	s.keys.Store(hash, cachedKey{integration: integ, until: until})
	return integ, nil
}

// MaxKeyOverlap bounds how long a rolled key keeps working.
const MaxKeyOverlap = 7 * 24 * time.Hour

// RollKey gives an integration new secrets, as its flavor rolls them,
// shown once; the keys it had keep working for overlap (0: they stop at
// once), so that the merchant's servers can move to the new ones without
// an outage.
func (s *Service) RollKey(ctx context.Context, integrationID string, overlap time.Duration) (Credentials, error) {
	if overlap < 0 || overlap > MaxKeyOverlap {
		return nil, malipo.Invalid("overlap", "parameter_invalid", "the overlap is between 0 and %s", MaxKeyOverlap)
	}
	var shown Credentials
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		in, err := tx.GetIntegration(integrationID)
		if err != nil {
			return err
		}
		flavor, _ := s.flavors.get(in.Flavor)
		if flavor.Roll == nil {
			return malipo.Invalid("integration", "roll_unsupported", "a %s integration's credentials do not roll: create a new integration and revoke this one", in.Flavor)
		}
		had, err := tx.ListAPIKeys(in.ID)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(had, func(k malipo.APIKey) bool { return k.Works(s.now()) }) {
			return malipo.Errorf(malipo.KindConflict, "integration_revoked", "this integration is revoked")
		}
		in.Config = maps.Clone(in.Config)
		keys, creds, err := flavor.Roll(s.cfg.IDs, &in)
		if err != nil {
			return err
		}
		now := s.now()
		keep := map[string]bool{}
		for _, key := range keys {
			if err := tx.CreateAPIKey(malipo.APIKey{Hash: HashKey(key), IntegrationID: in.ID, Hint: keyHint(key), CreatedAt: now}); err != nil {
				return err
			}
			keep[HashKey(key)] = true
		}
		for _, k := range had {
			if !keep[k.Hash] && (k.ExpiresAt.IsZero() || k.ExpiresAt.After(now.Add(overlap))) {
				k.ExpiresAt = now.Add(overlap)
				if err := tx.ExpireAPIKey(k.Hash, k.ExpiresAt); err != nil {
					return err
				}
			}
		}
		shown = creds
		return tx.UpdateIntegration(in)
	})
	if err == nil && overlap == 0 {
		s.forgetKeys()
	}
	return shown, err
}

// keyHint is what may be shown of a key: its ends, or nothing of a short one.
func keyHint(key string) string {
	if len(key) >= 16 {
		return key[:8] + "…" + key[len(key)-4:]
	}
	return "…"
}

// RevokeIntegration makes every key of an integration stop working now.
// Nodes that cached a key forget it within a minute; this one at once.
func (s *Service) RevokeIntegration(ctx context.Context, integrationID string) error {
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		if _, err := tx.GetIntegration(integrationID); err != nil {
			return err
		}
		return tx.ExpireAPIKeys(integrationID, s.now(), "")
	})
	if err == nil {
		s.forgetKeys()
	}
	return err
}

// APIKeys lists an integration's keys (hints only) with when each stops.
func (s *Service) APIKeys(ctx context.Context, integrationID string) ([]malipo.APIKey, error) {
	var keys []malipo.APIKey
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		keys, err = tx.ListAPIKeys(integrationID)
		return err
	})
	return keys, err
}

// forgetKeys empties this node's cache of keys, after a change that must
// take effect at once.
func (s *Service) forgetKeys() { s.keys.Clear() }

// ListIntegrations lists a merchant's integrations, oldest first.
func (s *Service) ListIntegrations(ctx context.Context, merchantID string) ([]malipo.Integration, error) {
	var out []malipo.Integration
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		if _, err := tx.GetMerchant(merchantID); err != nil {
			return err
		}
		out, err = tx.ListIntegrations(merchantID)
		return err
	})
	return out, err
}

// IntegrationSettings are what may change in an integration after it is
// made; nil leaves a setting as it is.
type IntegrationSettings struct {
	NotifyURL             *string
	AllowIPs              *[]string
	Country               *string
	Payouts               *bool
	PayoutsPerDestination *int
	PayoutWindow          *time.Duration
	MaxPayout             *int64
}

// UpdateIntegration changes an integration's settings, checked as at its
// creation. This node forgets its cached keys so the change applies at
// once; others within a minute.
func (s *Service) UpdateIntegration(ctx context.Context, id string, set IntegrationSettings) (malipo.Integration, error) {
	var in malipo.Integration
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) (err error) {
		if in, err = tx.GetIntegration(id); err != nil {
			return err
		}
		cfg := maps.Clone(in.Config)
		if cfg == nil {
			cfg = map[string]string{}
		}
		if set.NotifyURL != nil {
			if err := malipo.ValidateURL("notify_url", *set.NotifyURL); err != nil {
				return err
			}
			if *set.NotifyURL != "" {
				if err := checkNotifyHost("notify_url", in.Mode, *set.NotifyURL); err != nil {
					return err
				}
			}
			in.NotifyURL = *set.NotifyURL
		}
		if set.AllowIPs != nil {
			for _, a := range *set.AllowIPs {
				if _, err := netip.ParsePrefix(a); err != nil {
					if _, err := netip.ParseAddr(a); err != nil {
						return malipo.Invalid("allow_ip", "parameter_invalid", "%q is neither an IP address nor a CIDR range", a)
					}
				}
			}
			cfg["allow_ips"] = strings.Join(*set.AllowIPs, ",")
		}
		if set.Country != nil {
			c := normalizeCountry(*set.Country)
			if c != "" && !malipo.KnownRegion(c) {
				return malipo.Invalid("country", "country_invalid", "%q is not an ISO 3166 country code with a telephone numbering plan", *set.Country)
			}
			cfg[configCountry] = c
		}
		if set.Payouts != nil {
			cfg[configPayouts] = map[bool]string{true: "on", false: "off"}[*set.Payouts]
		}
		if set.PayoutsPerDestination != nil {
			if *set.PayoutsPerDestination < 0 {
				return malipo.Invalid("payouts_per_destination", "parameter_invalid", "cannot be negative")
			}
			in.Rules.PayoutsPerDestination = *set.PayoutsPerDestination
		}
		if set.PayoutWindow != nil {
			if *set.PayoutWindow < 0 || *set.PayoutWindow > 31*24*time.Hour {
				return malipo.Invalid("payout_window", "parameter_invalid", "the window is between 0 and 744h")
			}
			in.Rules.PayoutWindow = *set.PayoutWindow
		}
		if set.MaxPayout != nil {
			if *set.MaxPayout < 0 {
				return malipo.Invalid("max_payout", "parameter_invalid", "cannot be negative")
			}
			in.Rules.MaxPayout = *set.MaxPayout
		}
		in.Config = cfg
		return tx.UpdateIntegration(in)
	})
	if err == nil {
		s.forgetKeys()
	}
	return in, err
}
