package loginwall

import "testing"

func TestDomain(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]string{
		"www.linkedin.com":      "linkedin.com",
		"LinkedIn.com":          "linkedin.com",
		"linkedin.com.":         "linkedin.com",
		"lnkd.in":               "lnkd.in",
		"m.facebook.com":        "facebook.com",
		"x.com":                 "x.com",
		"notlinkedin.com":       "",
		"linkedin.com.evil.io":  "",
		"box.com":               "",
		"til.simonwillison.net": "",
		"":                      "",
	} {
		if got := Domain(host); got != want {
			t.Errorf("Domain(%q) = %q, want %q", host, got, want)
		}
	}
}
