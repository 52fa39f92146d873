// Package urlnorm turns what a user typed as a URL to crawl into one canonical
// string, or says why it refuses it.
//
// The canonical form is the key the warehouse stores documents under and the
// Nats-Msg-Id that deduplicates crawl requests, so two spellings of the same
// page must normalize to the same string, and normalizing a normalized URL
// must change nothing (Normalize is idempotent).
//
// Rules, in the order they are applied:
//
//   - surrounding white space is trimmed;
//   - only http and https are accepted, plus file URLs and local paths when
//     Options.AllowLocal is set; a local path (absolute, or relative to the
//     working directory) becomes an absolute file:// URL;
//   - URLs with user information (user:pass@host) are refused, since
//     credentials must never be stored or published;
//   - the scheme and host are lowercased, an internationalized host is
//     converted to ASCII (IDNA, UTS #46 lookup mapping, underscores allowed
//     as browsers do), a single trailing dot is removed, and IPv6 literals
//     take their canonical text form;
//   - default ports (:80 for http, :443 for https) are removed;
//   - the fragment is removed;
//   - percent-encoding is normalized: escapes of unreserved characters
//     (A-Z a-z 0-9 - . _ ~) are decoded, other escapes get uppercase hex, and
//     characters that may not appear literally are escaped;
//   - the path is cleaned: "." and ".." segments are resolved, empty
//     segments ("//") collapse, a trailing slash is kept as it was, and an
//     empty path becomes "/";
//   - tracking parameters are removed from the query (see below), empty
//     parameters are dropped, and the rest are sorted by name, stably, so
//     repeated names keep their relative order;
//   - the result may not be longer than MaxLength bytes.
//
// Tracking parameters removed (names compared case-insensitively): any name
// starting with utm_, pk_, mtm_ or hsa_, and fbclid, gclid, gclsrc, dclid,
// gbraid, wbraid, msclkid, yclid, twclid, ttclid, li_fat_id, igshid, igsh,
// mc_cid, mc_eid, ref_src, _hsenc, _hsmi, __hssc, __hstc, __hsfp,
// hsctatracking, mkt_tok, _ga, _gl, oly_anon_id, oly_enc_id, vero_id,
// vero_conv, rb_clickid, s_cid, sc_cid, ck_subscriber_id, _bhlid, wickedid
// and srsltid. Generic names such as "ref" or "source" are kept: on some
// sites they select content.
package urlnorm

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// MaxLength is the longest normalized URL accepted, in bytes. Longer URLs are
// almost always generated junk (session state, tracking blobs), and many
// servers and proxies refuse them anyway.
const MaxLength = 2048

// maxInputLength bounds the work done on raw input before it is normalized;
// the real limit, MaxLength, applies to the normalized form, which may be
// much shorter once tracking parameters are gone.
const maxInputLength = 4 * MaxLength

// Options select what Normalize accepts beyond http and https.
type Options struct {
	// AllowLocal accepts file:// URLs and local paths (--crawl-local).
	AllowLocal bool
}

// ErrInvalid is matched (errors.Is) by every error Normalize returns.
var ErrInvalid = errors.New("invalid URL")

// Error is the error Normalize returns. Its text is only the reason, such as
// `unsupported scheme "ftp"`, so it can be shown to the user next to the URL.
type Error struct {
	Reason string
}

func (e *Error) Error() string { return e.Reason }

// Is makes every *Error match ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

func refuse(format string, args ...any) error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

// idnaProfile maps hosts the way browsers do for lookups: UTS #46 mapping
// (case folding, width and compatibility mappings), the Bidi rule, DNS
// lengths checked, but underscores and unusual hyphens allowed, since real
// hosts use them ("my_service.example.com", "r3---sn-x.googlevideo.com").
// It is immutable, so sharing it is safe.
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
	idna.StrictDomainName(false),
	idna.CheckHyphens(false),
	idna.VerifyDNSLength(true),
)

// Normalize returns the canonical form of a URL to crawl, or an error
// matching ErrInvalid that says why it is refused.
func Normalize(raw string, opts Options) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", refuse("empty URL")
	}
	if len(s) > maxInputLength {
		return "", refuse("URL is %d bytes long, the limit is %d", len(s), MaxLength)
	}

	var (
		out string
		err error
	)
	scheme, ok := schemeOf(s)
	switch {
	case !ok:
		if !opts.AllowLocal {
			if looksLikePath(s) {
				return "", refuse("local files are not enabled (--crawl-local)")
			}
			return "", refuse("no scheme: use an http:// or https:// URL")
		}
		out, err = normalizeLocalPath(s)
	case scheme == "http" || scheme == "https":
		out, err = normalizeHTTP(s)
	case scheme == "file":
		if !opts.AllowLocal {
			return "", refuse("local files are not enabled (--crawl-local)")
		}
		out, err = normalizeFileURL(s)
	default:
		return "", refuse("unsupported scheme %q: use http or https", scheme)
	}
	if err != nil {
		return "", err
	}
	if len(out) > MaxLength {
		return "", refuse("URL is %d bytes long, the limit is %d", len(out), MaxLength)
	}
	return out, nil
}

// Host returns the host name of a normalized URL, without port or IPv6
// brackets, or "" when it has none (file URLs) or does not parse.
func Host(normalized string) string {
	u, err := url.Parse(normalized)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// schemeOf returns the lowercased scheme of s and whether s has one.
// "localhost:8080/x" and "example.com:80" are host:port strings typed without
// a scheme, not URLs with the schemes "localhost" and "example.com", so a
// "scheme" containing a dot, or followed by a digit, does not count.
func schemeOf(s string) (string, bool) {
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return "", false
	}
	scheme := s[:i]
	for j := 0; j < len(scheme); j++ {
		c := scheme[j]
		switch {
		case isAlpha(c):
		case j > 0 && (isDigit(c) || c == '+' || c == '-'):
		default:
			return "", false
		}
	}
	if rest := s[i+1:]; rest != "" && isDigit(rest[0]) {
		return "", false
	}
	return strings.ToLower(scheme), true
}

// looksLikePath reports whether s, which has no scheme, was meant as a local
// path rather than as a URL whose scheme was forgotten.
func looksLikePath(s string) bool {
	if strings.HasPrefix(s, "//") {
		return false // scheme-relative URL
	}
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") ||
		strings.HasPrefix(s, "~/") || s == "." || s == ".."
}

func normalizeLocalPath(s string) (string, error) {
	if strings.HasPrefix(s, "//") {
		return "", refuse("no scheme: use an http:// or https:// URL, or a local path")
	}
	if strings.ContainsRune(s, 0) {
		return "", refuse("local path contains a NUL byte")
	}
	// Shells expand "~/", but a quoted or configured path may still hold it.
	if rest, ok := strings.CutPrefix(s, "~/"); ok {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", refuse("local path %q: %v", s, err)
		}
		s = filepath.Join(home, rest)
	}
	abs, err := filepath.Abs(s)
	if err != nil {
		return "", refuse("local path %q: %v", s, err)
	}
	// Build the escaped form from the decoded path, then normalize it like
	// any other path, so that the result is what normalizeFileURL would make
	// of it (idempotence).
	escaped := (&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath()
	return "file://" + cleanPath(normalizeEscapes(escaped, pathChars)), nil
}

func normalizeFileURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", parseError(err)
	}
	if u.Opaque != "" {
		return "", refuse("a file URL needs an absolute path (file:///path)")
	}
	if u.User != nil {
		return "", refuse("user credentials in URLs are not allowed")
	}
	if h := strings.ToLower(u.Host); h != "" && h != "localhost" {
		return "", refuse("file URLs on another host (%q) are not supported", u.Host)
	}
	p := rawPath(u)
	if p == "" {
		return "", refuse("a file URL needs a path")
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return "file://" + cleanPath(normalizeEscapes(p, pathChars)), nil
}

func normalizeHTTP(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", parseError(err)
	}
	scheme := strings.ToLower(u.Scheme)
	if u.Opaque != "" || u.Host == "" {
		return "", refuse("no host")
	}
	if u.User != nil {
		return "", refuse("user credentials in URLs are not allowed")
	}
	host, err := normalizeHost(u.Hostname())
	if err != nil {
		return "", err
	}
	port, err := normalizePort(scheme, u.Port())
	if err != nil {
		return "", err
	}

	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(host)
	if port != "" {
		b.WriteByte(':')
		b.WriteString(port)
	}
	b.WriteString(cleanPath(normalizeEscapes(rawPath(u), pathChars)))
	if q := normalizeQuery(u.RawQuery); q != "" {
		b.WriteByte('?')
		b.WriteString(q)
	}
	return b.String(), nil
}

// parseError turns a net/url error into a reason without Go's quoting of
// the whole input.
func parseError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return refuse("does not parse: %v", err)
}

// rawPath returns the path as it was written in the input. net/url keeps it
// in RawPath only when it differs from its own encoding of Path.
func rawPath(u *url.URL) string {
	if u.RawPath != "" {
		return u.RawPath
	}
	return u.EscapedPath()
}

func normalizeHost(h string) (string, error) {
	if h == "" {
		return "", refuse("no host")
	}
	if strings.Contains(h, ":") { // an IPv6 literal; net/url removed the brackets
		a, err := netip.ParseAddr(h)
		if err != nil || !a.Is6() {
			return "", refuse("invalid IPv6 address %q", h)
		}
		if a.Zone() != "" {
			return "", refuse("IPv6 zones are not allowed in URLs")
		}
		return "[" + a.String() + "]", nil
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return a.String(), nil
	}

	if !utf8.ValidString(h) {
		return "", refuse("host name %q is not valid UTF-8", h)
	}
	h = strings.TrimSuffix(h, ".")
	ascii, err := idnaProfile.ToASCII(h)
	if err != nil {
		return "", refuse("invalid host name %q: %v", h, err)
	}
	ascii = strings.ToLower(ascii)
	// The ASCII form must itself be a valid host, or normalizing the result
	// again would refuse it: check it maps to itself.
	if again, err := idnaProfile.ToASCII(ascii); err != nil || again != ascii {
		return "", refuse("invalid host name %q", h)
	}
	for i := 0; i < len(ascii); i++ {
		c := ascii[i]
		if !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' && c != '.' {
			return "", refuse("invalid character %q in host name", c)
		}
	}
	if len(ascii) > 253 {
		return "", refuse("host name is longer than 253 bytes")
	}
	for label := range strings.SplitSeq(ascii, ".") {
		if label == "" || len(label) > 63 {
			return "", refuse("invalid host name %q: empty label or label over 63 bytes", h)
		}
	}
	// A host that IDNA maps to a dotted-quad ("①②⑦.0.0.1") is an IP literal in
	// disguise: write it as one so that both spellings normalize alike.
	if a, err := netip.ParseAddr(ascii); err == nil {
		return a.String(), nil
	}
	return ascii, nil
}

func normalizePort(scheme, port string) (string, error) {
	if port == "" {
		return "", nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", refuse("invalid port %q", port)
	}
	if scheme == "http" && n == 80 || scheme == "https" && n == 443 {
		return "", nil
	}
	return strconv.Itoa(n), nil // drops leading zeros
}

// Which characters a component may hold without escaping (RFC 3986).
const (
	pathChars  = iota // pchar and "/"
	queryChars        // pchar, "/" and "?"
)

func allowedLiteral(c byte, component int) bool {
	if isUnreserved(c) {
		return true
	}
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '/':
		return true
	case '?':
		return component == queryChars
	}
	return false
}

// normalizeEscapes decodes escapes of unreserved characters, uppercases the
// hex digits of the other escapes, and escapes bytes that may not appear
// literally. A '%' that does not start an escape is escaped, so the result
// never holds a stray '%' (net/url refuses those before we get here anyway).
func normalizeEscapes(s string, component int) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			if isUnreserved(v) {
				b.WriteByte(v)
			} else {
				b.WriteByte('%')
				b.WriteByte(hex[v>>4])
				b.WriteByte(hex[v&15])
			}
			i += 2
			continue
		}
		if allowedLiteral(c, component) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// cleanPath resolves "." and ".." segments and collapses empty segments of an
// escaped path. A trailing slash is kept, as is the one implied by a final
// "." or ".." ("/a/b/.." is "/a/"); an empty result is "/".
func cleanPath(p string) string {
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	trailing := false
	for i, seg := range segs {
		last := i == len(segs)-1
		switch seg {
		case "":
			trailing = last && i > 0
		case ".":
			trailing = last
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			trailing = last
		default:
			out = append(out, seg)
			trailing = false
		}
	}
	if len(out) == 0 {
		return "/"
	}
	cleaned := "/" + strings.Join(out, "/")
	if trailing {
		cleaned += "/"
	}
	return cleaned
}

// normalizeQuery drops empty and tracking parameters, normalizes escapes and
// sorts the parameters by name, keeping the order of repeated names.
func normalizeQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type param struct{ name, text string }
	var params []param
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		text := normalizeEscapes(part, queryChars)
		name, _, _ := strings.Cut(text, "=")
		if isTracking(name) {
			continue
		}
		params = append(params, param{name: name, text: text})
	}
	slices.SortStableFunc(params, func(a, b param) int { return strings.Compare(a.name, b.name) })
	texts := make([]string, len(params))
	for i, p := range params {
		texts[i] = p.text
	}
	return strings.Join(texts, "&")
}

// trackingPrefixes and trackingNames are the tracking parameters removed from
// queries (see the package documentation). Names are lowercase.
var (
	trackingPrefixes = []string{"utm_", "pk_", "mtm_", "hsa_"}
	trackingNames    = map[string]bool{
		"fbclid": true, "gclid": true, "gclsrc": true, "dclid": true, "gbraid": true,
		"wbraid": true, "msclkid": true, "yclid": true, "twclid": true, "ttclid": true,
		"li_fat_id": true, "igshid": true, "igsh": true, "mc_cid": true, "mc_eid": true,
		"ref_src": true, "_hsenc": true, "_hsmi": true, "__hssc": true, "__hstc": true,
		"__hsfp": true, "hsctatracking": true, "mkt_tok": true, "_ga": true, "_gl": true,
		"oly_anon_id": true, "oly_enc_id": true, "vero_id": true, "vero_conv": true,
		"rb_clickid": true, "s_cid": true, "sc_cid": true, "ck_subscriber_id": true,
		"_bhlid": true, "wickedid": true, "srsltid": true,
	}
)

// isTracking reports whether an escape-normalized parameter name is a
// tracking parameter. Unreserved characters are already decoded, so
// "utm%5Fsource" arrives here as "utm_source".
func isTracking(name string) bool {
	name = strings.ToLower(name)
	if trackingNames[name] {
		return true
	}
	for _, p := range trackingPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
func isUnreserved(c byte) bool {
	return isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~'
}

func unhex(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
