package cinetpay

import (
	_ "embed"
	"net/http"
	"net/url"
)

// seamlessJS is CinetPay's Seamless SDK as Malipo serves it.
//
//go:embed seamless/main.js
var seamlessJS []byte

// registerSeamless serves the Seamless SDK and what a merchant's page
// needs to call the API from the browser: CORS on the two endpoints the
// script calls, and the page the checkout frame ends on.
func (f *Face) registerSeamless(mux *http.ServeMux, prefix string) {
	mux.HandleFunc("GET "+prefix+"/seamless/main.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Write(seamlessJS)
	})
	mux.HandleFunc("GET "+prefix+"/seamless/done", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte(`<!doctype html><html lang="fr"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
			`<title>CinetPay</title><body style="font:16px/1.5 system-ui,sans-serif;text-align:center;padding:3rem 1rem">` +
			`<p>Paiement terminé. Vous pouvez fermer cette fenêtre.</p><p lang="en">Payment done. You may close this window.</p></body></html>`))
	})
	for _, path := range []string{prefix + "/v2/payment", prefix + "/v2/payment/check"} {
		mux.HandleFunc("OPTIONS "+path, func(w http.ResponseWriter, r *http.Request) {
			if origin := browserOrigin(r); origin != "" {
				allowOrigin(w, origin)
				w.Header().Set("Access-Control-Allow-Methods", "POST")
				w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
				w.Header().Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
		})
	}
}

// browserOrigin is the origin of the page that made a request from a
// browser (the Origin header, when it is an http(s) origin), else "".
func browserOrigin(r *http.Request) string {
	o := r.Header.Get("Origin")
	u, err := url.Parse(o)
	if o == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Scheme+"://"+u.Host != o {
		return ""
	}
	return o
}

func allowOrigin(w http.ResponseWriter, origin string) {
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Add("Vary", "Origin")
}
