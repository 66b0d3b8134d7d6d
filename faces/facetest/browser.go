package facetest

import (
	"context"
	"os"
	"os/exec"
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
