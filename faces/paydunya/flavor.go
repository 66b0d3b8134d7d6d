package paydunya

import (
	"fmt"
	"net/http"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/lenient"
	"github.com/malipo/malipo/notify"
	"github.com/malipo/malipo/snapshot"
)

// Flavor is PayDunya's callback (IPN): a form-encoded POST whose data[…]
// keys carry the same structure as the confirm answer, with data[hash]
// the SHA-512 of the master key. Any 2xx acknowledges it.
func (f *Face) Flavor() notify.Flavor { return flavor{f} }

type flavor struct{ f *Face }

func (fl flavor) Build(m notify.Message) (notify.Request, error) {
	if m.Event.ObjectType != "payment" {
		return notify.Request{}, fmt.Errorf("PayDunya callbacks are sent for invoices only, not %s events", m.Event.ObjectType)
	}
	var p malipo.Payment
	if err := snapshot.Decode(m.Event.Data, &p); err != nil {
		return notify.Request{}, err
	}
	body := lenient.Form("data", invoiceData(fl.f.svc, m.Integration, p))
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	return notify.Request{Header: h, Body: []byte(body)}, nil
}

func (flavor) Acknowledged(status int, _ []byte) bool { return notify.Acknowledged2xx(status) }
