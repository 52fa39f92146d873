package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/twin-llm/twin/internal/httpserver"
)

// AuthConfig says who may call the API (every /v1/* route, the chat
// WebSocket included; not /, /v1/openapi.json, /healthz or /readyz).
// cmd/twin puts /metrics behind it too, through Protect.
type AuthConfig struct {
	// Tokens are static bearer tokens, each at least MinTokenBytes long.
	Tokens []string
	// JWTSecret verifies HS256 JWTs, which must carry exp (and may carry
	// nbf). At least MinJWTSecretBytes long.
	JWTSecret []byte
	// AllowOpen serves every client when neither Tokens nor JWTSecret is
	// set. Without it such a gateway serves loopback clients only, so that
	// a gateway bound to a public address by mistake is not open.
	AllowOpen bool
}

// Bounds Validate enforces: a short secret can be guessed.
const (
	MinTokenBytes     = 16
	MinJWTSecretBytes = 32
)

// ErrAuthConfig matches every error of AuthConfig.Validate.
var ErrAuthConfig = errors.New("gateway: invalid auth config")

// Enabled reports whether clients must present a token.
func (a AuthConfig) Enabled() bool { return len(a.Tokens) > 0 || len(a.JWTSecret) > 0 }

// Validate checks the config; cmd/twin calls it to refuse bad flags at
// start. A gateway built with an invalid config refuses every /v1 request.
func (a AuthConfig) Validate() error {
	for i, t := range a.Tokens {
		if len(t) < MinTokenBytes {
			return fmt.Errorf("%w: token %d is %d bytes, want at least %d", ErrAuthConfig, i+1, len(t), MinTokenBytes)
		}
	}
	if len(a.JWTSecret) > 0 && len(a.JWTSecret) < MinJWTSecretBytes {
		return fmt.Errorf("%w: JWT secret is %d bytes, want at least %d", ErrAuthConfig, len(a.JWTSecret), MinJWTSecretBytes)
	}
	return nil
}

// jwtLeeway absorbs clock skew between the token's issuer and the gateway.
const jwtLeeway = 30 * time.Second

// wsTokenProtocol prefixes a bearer token offered as a WebSocket
// subprotocol ("twin.bearer.<token>"), the one header a browser lets a
// page set on a WebSocket. It must be offered beside ChatSubprotocol, the
// one the gateway selects, since the token must not be echoed back.
const wsTokenProtocol = "twin.bearer."

// authenticator checks requests against an AuthConfig.
type authenticator struct {
	// hashes are the SHA-256 of the static tokens: comparing fixed-size
	// digests in constant time hides the tokens' lengths as well.
	hashes [][sha256.Size]byte
	secret []byte
	open   bool
	// invalid is why the config was refused; every request is then
	// refused too, since serving without the intended auth is worse.
	invalid error
}

func newAuthenticator(a AuthConfig) *authenticator {
	au := &authenticator{open: a.AllowOpen, invalid: a.Validate()}
	for _, t := range a.Tokens {
		au.hashes = append(au.hashes, sha256.Sum256([]byte(t)))
	}
	if len(a.JWTSecret) > 0 {
		au.secret = append([]byte(nil), a.JWTSecret...)
	}
	return au
}

func (au *authenticator) enabled() bool { return len(au.hashes) > 0 || len(au.secret) > 0 }

// authError is a refused request: its status, message and challenge.
type authError struct {
	status    int
	msg       string
	challenge string
}

// check authenticates r. On a WebSocket route the token may also come
// from the access_token query parameter or a "twin.bearer.<token>"
// subprotocol, since browsers cannot set headers on a WebSocket.
func (au *authenticator) check(r *http.Request, websocket bool) *authError {
	if au.invalid != nil {
		return &authError{status: http.StatusInternalServerError, msg: "auth is misconfigured: " + au.invalid.Error()}
	}
	if !au.enabled() {
		if au.open {
			return nil
		}
		if isLoopback(r) {
			return browserGuard(r, websocket)
		}
		return &authError{status: http.StatusUnauthorized, challenge: `Bearer realm="twin"`,
			msg: "auth is not configured; only loopback clients are served"}
	}
	token, ok := bearerToken(r, websocket)
	if !ok {
		return &authError{status: http.StatusUnauthorized, challenge: `Bearer realm="twin"`,
			msg: "missing bearer token: send Authorization: Bearer <token>"}
	}
	if au.valid(token) {
		return nil
	}
	return &authError{status: http.StatusUnauthorized, challenge: `Bearer realm="twin", error="invalid_token"`,
		msg: "invalid or expired bearer token"}
}

// valid reports whether token is one of the static tokens or a JWT signed
// with the secret and within its validity period.
func (au *authenticator) valid(token string) bool {
	sum := sha256.Sum256([]byte(token))
	match := 0
	for i := range au.hashes {
		// No early exit: the time taken does not say which token matched.
		match |= subtle.ConstantTimeCompare(sum[:], au.hashes[i][:])
	}
	if match == 1 {
		return true
	}
	if len(au.secret) == 0 || strings.Count(token, ".") != 2 {
		return false
	}
	parsed, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return au.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(jwtLeeway))
	return err == nil && parsed.Valid
}

// bearerToken finds the request's token.
func bearerToken(r *http.Request, websocket bool) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		token = strings.TrimSpace(token)
		return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
	}
	if !websocket {
		return "", false
	}
	if t := r.URL.Query().Get("access_token"); t != "" {
		return t, true
	}
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			if t, ok := strings.CutPrefix(strings.TrimSpace(p), wsTokenProtocol); ok && t != "" {
				return t, true
			}
		}
	}
	return "", false
}

// isLoopback reports whether r comes straight from this machine. A
// request carrying forwarding headers came through a proxy, which may be
// serving anyone: it does not count as loopback even from 127.0.0.1.
func isLoopback(r *http.Request) bool {
	for _, h := range []string{"X-Forwarded-For", "X-Real-Ip", "Forwarded"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// browserGuard closes the two ways a web page in the user's own browser
// could use a loopback gateway that asks for no token. DNS rebinding: a
// page of evil.example whose name turns into 127.0.0.1 is same-origin
// with the gateway, so the Host it sends must be a loopback one. Cross-site
// requests: any page may POST a text/plain body to 127.0.0.1 without a
// preflight, so a request whose Origin is another origin is refused (the
// chat's WebSocket has its own origin check, with --chat-origin).
func browserGuard(r *http.Request, websocket bool) *authError {
	if !loopbackHost(r.Host) {
		return &authError{status: http.StatusForbidden, msg: fmt.Sprintf(
			"host %q is not a loopback name: a gateway without --auth-token answers only to localhost, 127.0.0.1 or [::1]", r.Host)}
	}
	if origin := r.Header.Get("Origin"); !websocket && origin != "" {
		u, err := url.Parse(origin)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return &authError{status: http.StatusForbidden, msg: fmt.Sprintf(
				"cross-origin request from %q refused: a gateway without --auth-token serves only its own page", origin)}
		}
	}
	return nil
}

// loopbackHost reports whether a Host header names this machine.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// Protect returns a wrapper that puts a handler behind the authentication
// of a, the same as the API's, for routes served outside a gateway (the
// /metrics of every twin process). An invalid a refuses every request.
func Protect(a AuthConfig) func(http.Handler) http.Handler {
	au := newAuthenticator(a)
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if e := au.check(r, false); e != nil {
				if e.challenge != "" {
					w.Header().Set("WWW-Authenticate", e.challenge)
				}
				httpserver.WriteError(w, e.status, e.msg)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// requireAuth wraps an API route with the gateway's authentication.
func (g *Gateway) requireAuth(h http.Handler, websocket bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e := g.auth.check(r, websocket); e != nil {
			g.metrics.refuse(reasonUnauthorized)
			if e.challenge != "" {
				w.Header().Set("WWW-Authenticate", e.challenge)
			}
			httpserver.WriteError(w, e.status, e.msg)
			return
		}
		h.ServeHTTP(w, r)
	})
}
