package gateway

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/netip"
	"slices"
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

// IntegrationInput describes a new integration.
type IntegrationInput struct {
	MerchantID string
	Flavor     malipo.Flavor
	Mode       malipo.Mode
	NotifyURL  string
	Fee        malipo.FeeRule
	Rules      malipo.Rules
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
// credentials, in the flavor's own shape. The secret that identifies the
// integration (native: the secret key; PayDunya: the private key) is kept
// only as a hash.
func (s *Service) CreateIntegration(ctx context.Context, in IntegrationInput) (malipo.Integration, Credentials, error) {
	switch in.Flavor {
	case malipo.FlavorNative, malipo.FlavorPayDunya, malipo.FlavorCinetPay, malipo.FlavorKPay, malipo.FlavorIPay, malipo.FlavorClickPay:
	default:
		return malipo.Integration{}, nil, malipo.Invalid("flavor", "flavor_unsupported", "flavor %q is not supported yet", in.Flavor)
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
	if in.Flavor == malipo.FlavorCinetPay {
		if in.Currency == "" {
			in.Currency = "XOF"
		}
		if !slices.Contains([]string{"XOF", "XAF", "CDF", "GNF", "USD"}, strings.ToUpper(in.Currency)) {
			return malipo.Integration{}, nil, malipo.Invalid("currency", "currency_unsupported", "a CinetPay account is in XOF, XAF, CDF, GNF or USD")
		}
	}
	now := s.now()
	integ := malipo.Integration{
		ID: s.cfg.IDs.ID("int"), MerchantID: in.MerchantID, Flavor: in.Flavor, Mode: in.Mode,
		Config: map[string]string{"webhook_secret": s.newSecret()}, NotifyURL: in.NotifyURL, Fee: in.Fee, Rules: in.Rules, CreatedAt: now,
	}
	if in.Flavor == malipo.FlavorCinetPay {
		integ.Config["currency"] = strings.ToUpper(in.Currency)
	}
	if in.CardCallbackURL != "" {
		if err := malipo.ValidateURL("card_callback_url", in.CardCallbackURL); err != nil {
			return malipo.Integration{}, nil, err
		}
		integ.Config["card_callback_url"] = in.CardCallbackURL
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
	key, creds := s.credentials(&integ)
	apiKey := malipo.APIKey{Hash: HashKey(key), IntegrationID: integ.ID, Hint: key[:8] + "…" + key[len(key)-4:], CreatedAt: now}
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		if _, err := tx.GetMerchant(in.MerchantID); err != nil {
			return err
		}
		if err := tx.CreateIntegration(integ); err != nil {
			return err
		}
		return tx.CreateAPIKey(apiKey)
	})
	if err != nil {
		return malipo.Integration{}, nil, fmt.Errorf("create integration: %w", err)
	}
	return integ, creds, nil
}

// credentials makes an integration's secrets: the one whose hash finds
// the integration, and everything its owner is shown. Secrets a flavor
// must keep in clear to sign or compare go into the integration's Config.
func (s *Service) credentials(in *malipo.Integration) (string, Credentials) {
	switch in.Flavor {
	case malipo.FlavorPayDunya:
		prefix := "test_"
		if in.Mode == malipo.ModeLive {
			prefix = "live_"
		}
		h := s.cfg.IDs.Hex(16)
		master := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
		private := s.cfg.IDs.Secret(prefix+"private_", 17)
		public := s.cfg.IDs.Secret(prefix+"public_", 17)
		token := s.cfg.IDs.Secret("", 12)
		// The master key signs callbacks, so it is kept; the token is only
		// compared, so only its hash is.
		in.Config["master_key"], in.Config["public_key"], in.Config["token_hash"] = master, public, HashKey(token)
		return private, Credentials{"master_key": master, "private_key": private, "public_key": public, "token": token}
	case malipo.FlavorClickPay:
		key := s.cfg.IDs.Secret("cpa", 16)
		b := s.cfg.IDs.Bytes(2)
		account := fmt.Sprintf("%d", 1000+(int(b[0])<<8|int(b[1]))%9000)
		ipnKey := base64.StdEncoding.EncodeToString(s.cfg.IDs.Bytes(16))
		in.Config["account_id"], in.Config["ipn_key"] = account, ipnKey
		return key, Credentials{"api_key": key, "account_id": account, "ipn_key": ipnKey}
	case malipo.FlavorIPay:
		vid := strings.ToUpper(s.cfg.IDs.Secret("", 6))[:10]
		key := s.cfg.IDs.Hex(16)
		in.Config["vid"], in.Config["security_key"] = vid, key
		return vid, Credentials{"vid": vid, "security_key": key}
	case malipo.FlavorKPay:
		user := s.cfg.IDs.Secret("retailer_", 5)
		password := s.cfg.IDs.Secret("", 15)
		key := s.cfg.IDs.Hex(16)
		retailer := fmt.Sprintf("%02d", int(s.cfg.IDs.Bytes(1)[0])%99+1)
		in.Config["username"], in.Config["password_hash"], in.Config["retailer_id"] = user, HashKey(password), retailer
		return key, Credentials{"username": user, "password": password, "kpay_key": key, "retailer_id": retailer}
	case malipo.FlavorCinetPay:
		apikey := s.cfg.IDs.Hex(16)
		b := s.cfg.IDs.Bytes(4)
		site := fmt.Sprintf("%d", 100000+(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]))%900000)
		secret := s.cfg.IDs.Hex(16)
		in.Config["site_id"], in.Config["secret_key"] = site, secret
		return apikey, Credentials{"apikey": apikey, "site_id": site, "secret_key": secret}
	default:
		key := s.cfg.IDs.Secret(fmt.Sprintf("sk_%s_", in.Mode), 20)
		return key, Credentials{"integration_id": in.ID, "secret_key": key, "mode": string(in.Mode),
			"webhook_secret": in.Config["webhook_secret"]}
	}
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
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		integ, err = tx.IntegrationByKeyHash(hash)
		return err
	})
	if err != nil {
		return malipo.Integration{}, err
	}
	s.keys.Store(hash, cachedKey{integration: integ, until: now.Add(keyCacheTTL)})
	return integ, nil
}
