package dashboard

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/malipo/malipo/gateway"
)

// chart draws a stats' days as an SVG: a bar per day for the money
// received, a line for the share of payments that succeeded. It is drawn
// on the server (the pages run no script) and described in words for
// screen readers.
func chart(st gateway.Stats, lang string) template.HTML {
	const w, h, pad = 600, 160, 4
	n := len(st.Days)
	if n == 0 {
		return ""
	}
	var most int64 = 1
	for _, d := range st.Days {
		most = max(most, d.Volume)
	}
	slot := float64(w) / float64(n)
	var b strings.Builder
	rate := "—"
	if st.Payments > 0 {
		rate = fmt.Sprintf("%d%%", st.Succeeded*100/st.Payments)
	}
	label := t(lang, "chart_label", n, st.Currency, st.Payments, rate)
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" preserveAspectRatio="none">`, w, h, template.HTMLEscapeString(label))
	fmt.Fprintf(&b, `<title>%s</title>`, template.HTMLEscapeString(label))
	for i, d := range st.Days {
		bh := float64(h-2*pad) * float64(d.Volume) / float64(most)
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"></rect>`, float64(i)*slot+1, float64(h-pad)-bh, slot-2, bh)
	}
	var pts []string
	for i, d := range st.Days {
		if d.Payments == 0 {
			continue
		}
		y := float64(h-pad) - float64(h-2*pad)*float64(d.Succeeded)/float64(d.Payments)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", float64(i)*slot+slot/2, y))
	}
	if len(pts) > 1 {
		fmt.Fprintf(&b, `<polyline class="rate" points="%s"></polyline>`, strings.Join(pts, " "))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
