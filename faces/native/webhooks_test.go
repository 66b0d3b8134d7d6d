package native_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/malipo/malipo/webhook"
)

// hookReceiver records what the dispatcher sends it and answers 200.
type hookReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.reqs, h.body = append(h.reqs, r), append(h.body, b)
		h.mu.Unlock()
		io.WriteString(w, "thanks")
	}))
	t.Cleanup(h.Close)
	return h
}

// got returns what the receiver has been sent so far.
func (h *hookReceiver) got() ([]*http.Request, [][]byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*http.Request(nil), h.reqs...), append([][]byte(nil), h.body...)
}

func (f *fixture) dispatch(t *testing.T) {
	t.Helper()
	if _, err := f.disp.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookEndpointsEventsAndDeliveries(t *testing.T) {
	f := setup(t)
	rc := newHookReceiver(t)

	a := f.do(t, "POST", "/v1/webhook_endpoints", f.key, `{"url":"`+rc.URL+`/hooks","events":["payment.succeeded"]}`, "Idempotency-Key", "ep-1")
	if a.status != 201 || a.body["object"] != "webhook_endpoint" || a.body["status"] != "enabled" {
		t.Fatalf("create endpoint: %d %s", a.status, a.raw)
	}
	id, secret := a.body["id"].(string), a.body["secret"].(string)
	if !strings.HasPrefix(id, "we_") || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("create endpoint: %s", a.raw)
	}
	if again := f.do(t, "POST", "/v1/webhook_endpoints", f.key, `{"url":"`+rc.URL+`/hooks","events":["payment.succeeded"]}`, "Idempotency-Key", "ep-1"); again.body["id"] != id || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replayed create made another endpoint: %s", again.raw)
	}
	// The secret is shown once.
	if a := f.do(t, "GET", "/v1/webhook_endpoints/"+id, f.key, ""); a.status != 200 || a.body["secret"] != nil || a.body["url"] != rc.URL+"/hooks" {
		t.Errorf("get endpoint: %d %s", a.status, a.raw)
	}
	if a := f.do(t, "GET", "/v1/webhook_endpoints", f.key, ""); a.status != 200 || len(a.body["data"].([]any)) != 1 {
		t.Errorf("list endpoints: %s", a.raw)
	}
	if a := f.do(t, "GET", "/v1/webhook_endpoints/"+id, f.otherKey, ""); a.status != 404 || a.errCode() != "resource_missing" {
		t.Errorf("another merchant sees the endpoint: %d %s", a.status, a.raw)
	}
	if a := f.do(t, "POST", "/v1/webhook_endpoints/"+id, f.key, `{"events":["payment.*"]}`); a.status != 200 || a.body["events"].([]any)[0] != "payment.*" {
		t.Errorf("update endpoint: %d %s", a.status, a.raw)
	}

	// A payment succeeds: one event, one delivery, sent by the dispatcher.
	p := f.do(t, "POST", "/v1/payments", f.key, momoBody)
	f.clock.Advance(3 * time.Second)
	evs := f.do(t, "GET", "/v1/events", f.key, "")
	data := evs.body["data"].([]any)
	if evs.status != 200 || len(data) != 1 {
		t.Fatalf("events: %d %s", evs.status, evs.raw)
	}
	ev := data[0].(map[string]any)
	evID := ev["id"].(string)
	obj := ev["data"].(map[string]any)["object"].(map[string]any)
	if ev["type"] != "payment.succeeded" || obj["id"] != p.body["id"] || obj["status"] != "succeeded" || obj["net"] != 4950.0 {
		t.Errorf("event: %s", evs.raw)
	}
	if a := f.do(t, "GET", "/v1/events?type=payment.failed", f.key, ""); len(a.body["data"].([]any)) != 0 {
		t.Errorf("type filter: %s", a.raw)
	}
	if a := f.do(t, "GET", "/v1/events/"+evID, f.key, ""); a.status != 200 || a.body["id"] != evID {
		t.Errorf("get event: %d %s", a.status, a.raw)
	}
	if a := f.do(t, "GET", "/v1/events/"+evID, f.otherKey, ""); a.status != 404 {
		t.Errorf("another merchant reads the event: %d", a.status)
	}
	d := f.do(t, "GET", "/v1/events/"+evID+"/deliveries", f.key, "")
	dl := d.body["data"].([]any)
	if len(dl) != 1 || dl[0].(map[string]any)["status"] != "pending" || dl[0].(map[string]any)["endpoint"] != id {
		t.Fatalf("deliveries before dispatch: %s", d.raw)
	}

	f.dispatch(t)
	reqs, bodies := rc.got()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests", len(reqs))
	}
	if err := webhook.Verify(secret, reqs[0].Header, bodies[0], time.Minute, f.clock.Now()); err != nil {
		t.Errorf("signature: %v", err)
	}
	if string(bodies[0]) != strings.TrimSpace(f.do(t, "GET", "/v1/events/"+evID, f.key, "").raw) {
		t.Errorf("the notification body differs from GET /v1/events/%s:\n%s", evID, bodies[0])
	}
	d = f.do(t, "GET", "/v1/events/"+evID+"/deliveries", f.key, "")
	got := d.body["data"].([]any)[0].(map[string]any)
	attempts := got["attempts"].([]any)
	if got["status"] != "succeeded" || got["attempt_count"] != 1.0 || got["next_attempt_at"] != nil || len(attempts) != 1 {
		t.Fatalf("deliveries after dispatch: %s", d.raw)
	}
	if at := attempts[0].(map[string]any); at["status_code"] != 200.0 || at["response"] != "thanks" || at["error"] != nil {
		t.Errorf("attempt: %v", at)
	}

	// Replay it.
	r := f.do(t, "POST", "/v1/events/"+evID+"/redeliver", f.key, "")
	if r.status != 200 || len(r.body["data"].([]any)) != 1 || r.body["data"].([]any)[0].(map[string]any)["status"] != "pending" {
		t.Fatalf("redeliver: %d %s", r.status, r.raw)
	}
	f.dispatch(t)
	if reqs, _ := rc.got(); len(reqs) != 2 || reqs[1].Header.Get("webhook-id") != evID {
		t.Errorf("redelivery: %d requests", len(reqs))
	}
	if d := f.do(t, "GET", "/v1/events/"+evID+"/deliveries", f.key, ""); len(d.body["data"].([]any)) != 2 {
		t.Errorf("the redelivery is not in the log: %s", d.raw)
	}

	// Rotate, then delete.
	rot := f.do(t, "POST", "/v1/webhook_endpoints/"+id+"/rotate_secret", f.key, `{"expires_in":0}`)
	if rot.status != 200 || rot.body["secret"] == secret || !strings.HasPrefix(rot.body["secret"].(string), "whsec_") {
		t.Errorf("rotate: %d %s", rot.status, rot.raw)
	}
	if a := f.do(t, "DELETE", "/v1/webhook_endpoints/"+id, f.key, ""); a.status != 200 || a.body["deleted"] != true {
		t.Errorf("delete: %d %s", a.status, a.raw)
	}
	if a := f.do(t, "GET", "/v1/webhook_endpoints/"+id, f.key, ""); a.status != 404 {
		t.Errorf("deleted endpoint still readable: %d", a.status)
	}
	if a := f.do(t, "DELETE", "/v1/webhook_endpoints/"+id, f.key, ""); a.status != 404 {
		t.Errorf("second delete: %d", a.status)
	}
}

func TestWebhookEndpointErrors(t *testing.T) {
	f := setup(t)
	cases := []struct {
		method, path, key, body string
		status                  int
		code                    string
	}{
		{"POST", "/v1/webhook_endpoints", f.key, `{}`, 400, "parameter_missing"},
		{"POST", "/v1/webhook_endpoints", f.key, `{"url":"ftp://x"}`, 400, "url_invalid"},
		{"POST", "/v1/webhook_endpoints", f.key, `{"url":"https://shop.example/h","events":["payment.paid"]}`, 400, "event_type_invalid"},
		{"POST", "/v1/webhook_endpoints", f.key, `{"url":"https://shop.example/h","secret":"mine"}`, 400, "parameter_unknown"},
		{"POST", "/v1/webhook_endpoints", f.liveKey, `{"url":"http://127.0.0.1:8000/h"}`, 400, "url_not_allowed"},
		{"POST", "/v1/webhook_endpoints", f.liveKey, `{"url":"http://169.254.169.254/latest"}`, 400, "url_not_allowed"},
		{"POST", "/v1/webhook_endpoints", "", `{"url":"https://shop.example/h"}`, 401, "missing_api_key"},
		{"GET", "/v1/webhook_endpoints?limit=3", f.key, ``, 400, "parameter_unknown"},
		{"GET", "/v1/webhook_endpoints/we_nope", f.key, ``, 404, "resource_missing"},
		{"POST", "/v1/webhook_endpoints/we_nope/rotate_secret", f.key, `{}`, 404, "resource_missing"},
		{"PUT", "/v1/webhook_endpoints/we_nope", f.key, `{}`, 405, "method_not_allowed"},
		{"GET", "/v1/events?type=payment.paid", f.key, ``, 400, "event_type_invalid"},
		{"GET", "/v1/events?limit=0", f.key, ``, 400, "parameter_invalid"},
		{"GET", "/v1/events?starting_after=evt_nope", f.key, ``, 404, "resource_missing"},
		{"GET", "/v1/events/evt_nope", f.key, ``, 404, "resource_missing"},
		{"GET", "/v1/events/evt_nope/deliveries", f.key, ``, 404, "resource_missing"},
		{"POST", "/v1/events/evt_nope/redeliver", f.key, ``, 404, "resource_missing"},
		{"POST", "/v1/events/evt_nope/redeliver", f.key, `{"all":true}`, 400, "parameter_unknown"},
	}
	for _, c := range cases {
		a := f.do(t, c.method, c.path, c.key, c.body)
		if a.status != c.status || a.errCode() != c.code {
			t.Errorf("%s %s %s: %d %s, want %d %s", c.method, c.path, c.body, a.status, a.raw, c.status, c.code)
		}
	}
	ep := f.do(t, "POST", "/v1/webhook_endpoints", f.key, `{"url":"https://shop.example/h"}`)
	id := ep.body["id"].(string)
	for _, c := range []struct{ body, code string }{
		{`{"expires_in":-1}`, "parameter_invalid"},
		{`{"expires_in":604801}`, "parameter_invalid"},
		{`{"expires_in":"soon"}`, "parameter_invalid"},
	} {
		if a := f.do(t, "POST", "/v1/webhook_endpoints/"+id+"/rotate_secret", f.key, c.body); a.status != 400 || a.errCode() != c.code {
			t.Errorf("rotate %s: %d %s", c.body, a.status, a.raw)
		}
	}
	if a := f.do(t, "POST", "/v1/webhook_endpoints/"+id, f.key, `{"url":"not a url"}`); a.status != 400 || a.errCode() != "url_invalid" {
		t.Errorf("update with a bad url: %d %s", a.status, a.raw)
	}
	// Nothing above changed the endpoint.
	if a := f.do(t, "GET", "/v1/webhook_endpoints/"+id, f.key, ""); a.body["url"] != "https://shop.example/h" {
		t.Errorf("a refused update changed the endpoint: %s", a.raw)
	}
}
