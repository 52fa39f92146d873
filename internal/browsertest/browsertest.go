// Package browsertest starts the headless Chromium that twin's browser
// tests drive: Debian's /usr/bin/chromium, which .ci/run installs.
package browsertest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium is where Debian's package installs the browser.
const Chromium = "/usr/bin/chromium"

// Start returns a chromedp context of a fresh headless browser that ends
// with the test, or within limit. Without the browser the test is skipped,
// except under CI, where a missing browser is a failed install.
func Start(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run the browser tests, but %s is missing: %v", Chromium, err)
		}
		t.Skipf("%s is missing (%v); apt-get install chromium to run the browser tests", Chromium, err)
	}
	// One deadline for the whole browser: a hung step fails the test
	// instead of hanging it.
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(Chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// Without these Chromium reaches for the network, which is closed here.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	return tab
}
