package requestid

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerHonoursOrMints(t *testing.T) {
	var seen string
	h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = From(r.Context()) }),
		func() string { return "req_minted" })
	for _, c := range []struct{ sent, want string }{
		{"", "req_minted"},
		{"client-7f3a", "client-7f3a"},
		{"has space", "req_minted"},
		{"tab\there", "req_minted"},
		{"é", "req_minted"},
		{strings.Repeat("a", 128), strings.Repeat("a", 128)},
		{strings.Repeat("a", 129), "req_minted"},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		if c.sent != "" {
			req.Header.Set(Header, c.sent)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if seen != c.want || rec.Header().Get(Header) != c.want {
			t.Errorf("sent %q: context %q, header %q, want %q", c.sent, seen, rec.Header().Get(Header), c.want)
		}
	}
}

func TestLogHandlerTagsLinesOfARequest(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(LogHandler(slog.NewTextHandler(&buf, nil))).With("component", "x")
	logger.InfoContext(With(context.Background(), "req_1"), "one")
	logger.Info("two")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "request_id=req_1") || strings.Contains(lines[1], "request_id") ||
		!strings.Contains(lines[0], "component=x") {
		t.Errorf("logs:\n%s", buf.String())
	}
}

// FuzzHandler feeds X-Request-Id as any client may send it. The ID the
// request carries, and the answer echoes, is the client's only when it is
// 1 to 128 printable ASCII characters (it goes into every log line);
// else it is a minted one.
func FuzzHandler(f *testing.F) {
	for _, s := range []string{"client-7f3a", "has space", "line\nbreak", strings.Repeat("a", 129), "é", "\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sent string) {
		var seen string
		h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = From(r.Context()) }),
			func() string { return "req_minted" })
		r := httptest.NewRequest("GET", "/", nil)
		r.Header[Header] = []string{sent}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if echoed := w.Header().Get(Header); echoed != seen {
			t.Fatalf("echoed %q, carried %q", echoed, seen)
		}
		if seen == "req_minted" {
			return
		}
		if seen != sent || len(seen) == 0 || len(seen) > 128 || strings.IndexFunc(seen, func(c rune) bool { return c < 0x21 || c > 0x7e }) >= 0 {
			t.Fatalf("carried %q from %q", seen, sent)
		}
	})
}
