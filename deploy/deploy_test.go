// Package deploy holds what an operator installs beside the binary: a
// systemd unit, reverse-proxy examples and Prometheus alert rules. Its test
// checks the rules with promtool and against the metrics Malipo exports.
package deploy

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

func promtool(t *testing.T, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("promtool"); err != nil {
		if os.Getenv("MALIPO_REQUIRE_PROMTOOL") != "" {
			t.Fatal("promtool is not installed (apt-get install prometheus)")
		}
		t.Skip("promtool is not installed; set MALIPO_REQUIRE_PROMTOOL to fail instead")
	}
	out, err := exec.Command("promtool", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestAlertRulesAreValid(t *testing.T) {
	promtool(t, "check", "rules", "prometheus/malipo-alerts.yml")
}

// The rules fire when they should, and stay quiet when they should.
func TestAlertRulesFire(t *testing.T) {
	promtool(t, "test", "rules", "prometheus/malipo-alerts.test.yml")
}

// Every metric the rules read is one Malipo exports: a renamed metric
// must not leave an alert that can never fire.
func TestAlertRulesReadExportedMetrics(t *testing.T) {
	rules, err := os.ReadFile("prometheus/malipo-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../cmd/malipo/routes.go")
	if err != nil {
		t.Fatal(err)
	}
	suffix := regexp.MustCompile(`_(count|bucket|sum)$`)
	names := regexp.MustCompile(`\bmalipo_[a-z_]+`).FindAllString(string(rules), -1)
	if len(names) < 8 {
		t.Fatalf("only %d metric names in the rules", len(names))
	}
	for _, name := range names {
		if base := suffix.ReplaceAllString(name, ""); !strings.Contains(string(src), `"`+base+`"`) {
			t.Errorf("the rules read %s, which Malipo does not export", name)
		}
	}
}
