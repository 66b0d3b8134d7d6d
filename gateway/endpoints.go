package gateway

import (
	"context"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/snapshot"
	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/webhook"
)

// EndpointInput describes a webhook endpoint to create or change. Nil
// fields are left as they are on update.
type EndpointInput struct {
	URL      *string
	Events   *[]string
	Disabled *bool
}

// validateEndpoint checks what an endpoint would become.
func validateEndpoint(mode malipo.Mode, ep malipo.Endpoint) error {
	if ep.URL == "" {
		return malipo.Invalid("url", "parameter_missing", "url is required")
	}
	if err := malipo.ValidateURL("url", ep.URL); err != nil {
		return err
	}
	if err := checkNotifyHost("url", mode, ep.URL); err != nil {
		return err
	}
	if len(ep.Events) > len(malipo.EventTypes)+8 {
		return malipo.Invalid("events", "parameter_invalid", "too many events")
	}
	for _, e := range ep.Events {
		if e == "*" || slices.Contains(malipo.EventTypes, e) {
			continue
		}
		if prefix, ok := strings.CutSuffix(e, ".*"); ok && slices.ContainsFunc(malipo.EventTypes, func(t string) bool {
			return strings.HasPrefix(t, prefix+".")
		}) {
			continue
		}
		return malipo.Invalid("events", "event_type_invalid", "unknown event type %q: use one of %s, a prefix such as payment.*, or *",
			e, strings.Join(malipo.EventTypes, ", "))
	}
	return nil
}

// checkNotifyHost refuses, when the URL names an address literally (or
// localhost), an address notifications in mode may not reach. Host names
// are checked again, after resolution, by the dispatcher's dialer.
func checkNotifyHost(param string, mode malipo.Mode, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return malipo.Invalid(param, "url_invalid", "%s must be an absolute http or https URL", param)
	}
	host := u.Hostname()
	addr, err := netip.ParseAddr(host)
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		addr, err = netip.MustParseAddr("127.0.0.1"), nil
	}
	if err == nil && !malipo.NotifyAddressAllowed(mode, addr) {
		return malipo.Invalid(param, "url_not_allowed", "notifications in %s mode cannot go to %s: private, loopback, link-local and reserved addresses are refused", mode, host)
	}
	return nil
}

// newSecret makes a whsec_ signing secret.
func (s *Service) newSecret() string { return webhook.NewSecret(s.cfg.IDs.Bytes(24)) }

// CreateEndpoint registers a webhook endpoint for the integration's
// merchant in its mode. The returned secret is shown only now.
func (s *Service) CreateEndpoint(ctx context.Context, in malipo.Integration, req EndpointInput, idem Idempotency) (malipo.Endpoint, string, bool, error) {
	ep := malipo.Endpoint{ID: s.cfg.IDs.ID("we"), MerchantID: in.MerchantID, Mode: in.Mode, CreatedAt: s.now()}
	if req.URL != nil {
		ep.URL = *req.URL
	}
	if req.Events != nil {
		ep.Events = *req.Events
	}
	if req.Disabled != nil && *req.Disabled {
		ep.Disabled, ep.DisabledReason = true, "disabled by the merchant"
	}
	if err := validateEndpoint(in.Mode, ep); err != nil {
		return malipo.Endpoint{}, "", false, err
	}
	secret := s.newSecret()
	ep.Secrets = []malipo.EndpointSecret{{Secret: secret}}
	var out snapshot.CreatedEndpoint
	var replay bool
	err := s.transactIdempotent(ctx, in.ID, idem, func(tx store.Tx) error {
		var err error
		if replay, err = s.replayed(tx, in.ID, idem, &out); err != nil || replay {
			return err
		}
		if n, err := tx.ListEndpoints(in.MerchantID, in.Mode); err != nil {
			return err
		} else if len(n) >= MaxEndpoints {
			return malipo.Invalid("url", "too_many_endpoints", "a merchant may have at most %d webhook endpoints per mode", MaxEndpoints)
		}
		if err := tx.CreateEndpoint(ep); err != nil {
			return err
		}
		out = snapshot.CreatedEndpoint{Endpoint: ep, Secret: secret}
		return s.remember(tx, in.ID, idem, out)
	})
	return out.Endpoint, out.Secret, replay, err
}

// MaxEndpoints bounds a merchant's webhook endpoints per mode.
const MaxEndpoints = 16

// ownedEndpoint reads an endpoint of the integration's merchant and mode.
func ownedEndpoint(tx store.Tx, in malipo.Integration, id string) (malipo.Endpoint, error) {
	ep, err := tx.GetEndpoint(id)
	return ep, ownedBy(in, ep.MerchantID, ep.Mode, err, "webhook endpoint", id)
}

// GetEndpoint reads one of the merchant's endpoints.
func (s *Service) GetEndpoint(ctx context.Context, in malipo.Integration, id string) (malipo.Endpoint, error) {
	var ep malipo.Endpoint
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		ep, err = ownedEndpoint(tx, in, id)
		return err
	})
	return ep, err
}

// ListEndpoints lists the merchant's endpoints in the integration's mode.
func (s *Service) ListEndpoints(ctx context.Context, in malipo.Integration) ([]malipo.Endpoint, error) {
	var eps []malipo.Endpoint
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		eps, err = tx.ListEndpoints(in.MerchantID, in.Mode)
		return err
	})
	return eps, err
}

// UpdateEndpoint changes an endpoint's URL, events or disabled flag.
// Enabling an endpoint clears the reason it was disabled for.
func (s *Service) UpdateEndpoint(ctx context.Context, in malipo.Integration, id string, req EndpointInput) (malipo.Endpoint, error) {
	var ep malipo.Endpoint
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		var err error
		if ep, err = ownedEndpoint(tx, in, id); err != nil {
			return err
		}
		if req.URL != nil {
			ep.URL = *req.URL
		}
		if req.Events != nil {
			ep.Events = *req.Events
		}
		if req.Disabled != nil {
			ep.Disabled, ep.DisabledReason = *req.Disabled, ""
			if ep.Disabled {
				ep.DisabledReason = "disabled by the merchant"
			}
		}
		if err := validateEndpoint(in.Mode, ep); err != nil {
			return err
		}
		return tx.UpdateEndpoint(ep)
	})
	return ep, err
}

// DeleteEndpoint removes an endpoint; its pending deliveries are dropped
// when they fall due.
func (s *Service) DeleteEndpoint(ctx context.Context, in malipo.Integration, id string) error {
	return s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		if _, err := ownedEndpoint(tx, in, id); err != nil {
			return err
		}
		return tx.DeleteEndpoint(id)
	})
}

// RotateEndpointSecret gives an endpoint a new secret, returned only now.
// The current secret keeps signing alongside it for overlap (at most 7
// days; 0 retires it at once), so receivers can switch without losing a
// notification.
func (s *Service) RotateEndpointSecret(ctx context.Context, in malipo.Integration, id string, overlap time.Duration) (malipo.Endpoint, string, error) {
	if overlap < 0 || overlap > 7*24*time.Hour {
		return malipo.Endpoint{}, "", malipo.Invalid("expires_in", "parameter_invalid", "the old secret may keep signing for 0 to 604800 seconds")
	}
	secret := s.newSecret()
	var ep malipo.Endpoint
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		var err error
		if ep, err = ownedEndpoint(tx, in, id); err != nil {
			return err
		}
		now := s.now()
		kept := []malipo.EndpointSecret{{Secret: secret}}
		for _, old := range ep.Secrets {
			switch {
			case old.ExpiresAt.IsZero() && overlap > 0:
				kept = append(kept, malipo.EndpointSecret{Secret: old.Secret, ExpiresAt: now.Add(overlap)})
			case !old.ExpiresAt.IsZero() && now.Before(old.ExpiresAt):
				kept = append(kept, old)
			}
		}
		ep.Secrets = kept
		return tx.UpdateEndpoint(ep)
	})
	return ep, secret, err
}
