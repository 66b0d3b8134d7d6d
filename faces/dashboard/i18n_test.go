package dashboard

import (
	"testing"
	"time"

	"github.com/malipo/malipo"
)

// Every word the dashboard shows exists in both its languages, and every
// kind of problem the ledger audit looks for has its label, the English
// one as malipo verify prints it.
func TestEveryTextInBothLanguages(t *testing.T) {
	for _, pair := range [][2]string{{"en", "fr"}, {"fr", "en"}} {
		for key := range texts[pair[0]] {
			if _, ok := texts[pair[1]][key]; !ok {
				t.Errorf("%q is in %s, not in %s", key, pair[0], pair[1])
			}
		}
	}
	for _, problem := range (malipo.AuditReport{}).Problems() {
		key := "audit_" + problem.Code
		if problem.Code == "" || texts["fr"][key] == "" {
			t.Errorf("the audit's %q has no French label (%q)", problem.What, key)
		}
		if texts["en"][key] != problem.What {
			t.Errorf("the audit's %q is labelled %q in English", problem.What, texts["en"][key])
		}
	}
}

// A time reads in the page's language and says that it is UTC, whatever
// zone it was made in.
func TestWhenSpeaksThePagesLanguage(t *testing.T) {
	nairobi := time.FixedZone("EAT", 3*60*60)
	at := time.Date(2026, time.February, 1, 12, 5, 0, 0, nairobi)
	for lang, want := range map[string]string{"en": "1 Feb 2026 09:05 UTC", "fr": "1 févr. 2026 09:05 UTC", "sw": "1 Feb 2026 09:05 UTC"} {
		if got := when(at, lang); got != want {
			t.Errorf("when in %s = %q, want %q", lang, got, want)
		}
	}
	if got := when(time.Time{}, "fr"); got != "" {
		t.Errorf("no time reads %q, want nothing", got)
	}
}
