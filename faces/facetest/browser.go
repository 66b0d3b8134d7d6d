package facetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
)

// Browser starts headless Chromium as a phone (an iPhone 12's screen)
// that prefers lang. Without Chromium the test is skipped, unless
// MALIPO_REQUIRE_BROWSER is set (as .ci/run does), when it fails.
func Browser(t *testing.T, lang string) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("MALIPO_REQUIRE_BROWSER") != "" {
			t.Fatal("Chromium is required (apt-get install -y chromium)")
		}
		t.Skip("no Chromium on this machine")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("lang", lang), chromedp.Flag("accept-lang", lang))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Emulate(device.IPhone12)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// Screenshot saves the page as the customer sees it, under
// test-output/dir (or $MALIPO_TEST_OUTPUT/dir), to look at.
func Screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	SaveOutput(t, dir, name+".png", shot)
}

// SaveOutput keeps a file a test made under test-output/dir (or
// $MALIPO_TEST_OUTPUT/dir), to look at.
func SaveOutput(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	root := os.Getenv("MALIPO_TEST_OUTPUT")
	if root == "" {
		root = "../../test-output"
	}
	if err := os.MkdirAll(root+"/"+dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root+"/"+dir+"/"+name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// axeSource is axe-core's script, from the npm package pinned under this
// package's testdata/axe (npm ci there; .ci/run does).
func axeSource(t *testing.T) string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(here), "testdata", "axe", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		if os.Getenv("MALIPO_REQUIRE_NODE") != "" {
			t.Fatalf("axe-core is required (npm ci in faces/facetest/testdata/axe): %v", err)
		}
		t.Skipf("axe-core is not installed (npm ci in faces/facetest/testdata/axe): %v", err)
	}
	return string(b)
}

// Violation is an accessibility rule a page breaks, as axe-core reports it.
type Violation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// Accessible runs axe-core on the page the browser shows and fails the
// test for every serious or critical violation (WCAG 2 A and AA rules).
func Accessible(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axeSource(t)+";true")); err != nil {
		t.Fatalf("inject axe-core on %s: %v", page, err)
	}
	found, err := chromedp.Run(ctx, chromedp.Evaluate[[]Violation](
		`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}, resultTypes: ["violations"]}).then(r => r.violations)`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe-core on %s: %v", page, err)
	}
	for _, v := range found {
		if v.Impact == "serious" || v.Impact == "critical" {
			var where []string
			for _, n := range v.Nodes {
				where = append(where, fmt.Sprint(n.Target...))
			}
			t.Errorf("%s: %s (%s): %s at %s", page, v.ID, v.Impact, v.Help, strings.Join(where, ", "))
		}
	}
}
