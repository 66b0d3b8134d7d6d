package dashboard

import (
	"testing"

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
