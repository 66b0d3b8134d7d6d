package sqlstore

import (
	"maps"
	"slices"

	"github.com/malipo/malipo"
)

// readCache holds reads the callers of one batch repeat, for the length of
// its write transaction.
//
// Why: the callers of a batch are often one merchant's (a hot merchant's
// payments succeeding), and each reads the same integration and the same
// webhook endpoints; on PostgreSQL every read is a round trip. These reads
// take no locks, so a read kept from earlier in the transaction is as good
// as one made now would have been a moment earlier. The cache is dropped
// whenever a statement names either table (a write may follow) and when a
// caller's work is undone (it may have read what it had written). Copies
// go out, so a caller changing what it got changes nothing here.
type readCache struct {
	integrations map[string]malipo.Integration
	endpoints    map[endpointsKey][]malipo.Endpoint
}

type endpointsKey struct {
	merchantID string
	mode       malipo.Mode
}

func (c *readCache) integration(id string) (malipo.Integration, bool) {
	i, ok := c.integrations[id]
	return copyIntegration(i), ok
}

func (c *readCache) keepIntegration(i malipo.Integration) {
	if c.integrations == nil {
		c.integrations = map[string]malipo.Integration{}
	}
	c.integrations[i.ID] = copyIntegration(i)
}

func (c *readCache) endpointsOf(merchantID string, mode malipo.Mode) ([]malipo.Endpoint, bool) {
	eps, ok := c.endpoints[endpointsKey{merchantID, mode}]
	return copyEndpoints(eps), ok
}

func (c *readCache) keepEndpoints(merchantID string, mode malipo.Mode, eps []malipo.Endpoint) {
	if c.endpoints == nil {
		c.endpoints = map[endpointsKey][]malipo.Endpoint{}
	}
	c.endpoints[endpointsKey{merchantID, mode}] = copyEndpoints(eps)
}

func copyIntegration(i malipo.Integration) malipo.Integration {
	i.Config = maps.Clone(i.Config)
	i.Rules.Fees = maps.Clone(i.Rules.Fees)
	return i
}

func copyEndpoints(eps []malipo.Endpoint) []malipo.Endpoint {
	if eps == nil {
		return nil
	}
	out := slices.Clone(eps)
	for i := range out {
		out[i].Events = slices.Clone(out[i].Events)
		out[i].Secrets = slices.Clone(out[i].Secrets)
	}
	return out
}
