package gateway

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/httpserver"
)

const (
	testToken  = "static-token-0123456789"
	testSecret = "a-jwt-secret-of-at-least-32-bytes!!"
)

// signJWT signs claims with method and key.
func signJWT(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAuthRequiresAValidToken(t *testing.T) {
	t.Parallel()
	st := startStack(t, Config{Auth: AuthConfig{Tokens: []string{testToken}, JWTSecret: []byte(testSecret)}}, nil)
	now := time.Now()
	valid := signJWT(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "ann", "exp": now.Add(time.Hour).Unix()})
	tokens := []struct {
		name  string
		token string
		ok    bool
	}{
		{"no token", "", false},
		{"static token", testToken, true},
		{"wrong static token", testToken + "x", false},
		{"valid JWT", valid, true},
		{"expired JWT", signJWT(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"exp": now.Add(-time.Hour).Unix()}), false},
		{"JWT not valid yet", signJWT(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"exp": now.Add(2 * time.Hour).Unix(), "nbf": now.Add(time.Hour).Unix()}), false},
		{"JWT without exp", signJWT(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "ann"}), false},
		{"JWT with another secret", signJWT(t, jwt.SigningMethodHS256, []byte(testSecret+"?"), jwt.MapClaims{"exp": now.Add(time.Hour).Unix()}), false},
		{"JWT signed with HS512", signJWT(t, jwt.SigningMethodHS512, []byte(testSecret), jwt.MapClaims{"exp": now.Add(time.Hour).Unix()}), false},
		{"unsigned JWT", signJWT(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"exp": now.Add(time.Hour).Unix()}), false},
	}
	for _, tc := range tokens {
		t.Run("REST "+tc.name, func(t *testing.T) {
			resp, body := st.do(t, http.MethodGet, "/v1/status", tc.token, "")
			if tc.ok {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET /v1/status = %d %s, want 200", resp.StatusCode, body)
				}
				return
			}
			var e struct{ Error string }
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") ||
				json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
				t.Fatalf("GET /v1/status = %d %q (WWW-Authenticate %q), want 401 with a JSON error and a Bearer challenge",
					resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
			}
		})
		t.Run("WebSocket "+tc.name, func(t *testing.T) {
			opts := &websocket.DialOptions{}
			if tc.token != "" {
				opts.HTTPHeader = http.Header{"Authorization": {"Bearer " + tc.token}}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, st.wsURL(""), opts)
			if c != nil {
				defer c.CloseNow()
			}
			if tc.ok != (err == nil) || !tc.ok && (resp == nil || resp.StatusCode != http.StatusUnauthorized) {
				t.Fatalf("dial: %v, %v; want ok=%v (else 401)", resp, err, tc.ok)
			}
		})
	}
	// Routes outside the API need no token.
	for _, path := range []string{"/healthz", "/metrics"} {
		if resp, _ := st.do(t, http.MethodGet, path, "", ""); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without a token = %d, want 200", path, resp.StatusCode)
		}
	}
}

// TestWebSocketTokenWithoutHeaders covers what a browser can send: the
// token in the query string, or as a subprotocol.
func TestWebSocketTokenWithoutHeaders(t *testing.T) {
	t.Parallel()
	st := startStack(t, Config{Auth: AuthConfig{JWTSecret: []byte(testSecret)}}, nil)
	token := signJWT(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, _, err := websocket.Dial(ctx, st.wsURL("access_token="+token), nil)
	if err != nil {
		t.Fatalf("dial with access_token: %v", err)
	}
	send(t, c, ClientMessage{Type: MsgAsk, ID: "q-token", Query: "hello"})
	if _, end := collect(t, c, "q-token"); end.Type != MsgDone {
		t.Fatalf("ask over a query-token connection ended with %+v", end)
	}
	_ = c.CloseNow()

	c, _, err = websocket.Dial(ctx, st.wsURL(""), &websocket.DialOptions{Subprotocols: []string{ChatSubprotocol, wsTokenProtocol + token}})
	if err != nil {
		t.Fatalf("dial with the token as a subprotocol: %v", err)
	}
	defer c.CloseNow()
	if c.Subprotocol() != ChatSubprotocol {
		t.Fatalf("negotiated subprotocol %q, want %q (never the token)", c.Subprotocol(), ChatSubprotocol)
	}

	// The query parameter is for the WebSocket only.
	resp, _ := st.do(t, http.MethodGet, "/v1/status?access_token="+token, "", "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /v1/status?access_token= = %d, want 401", resp.StatusCode)
	}
}

func TestWithoutAuthOnlyLoopbackIsServed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		auth   AuthConfig
		remote string
		header string // an X-Forwarded-For value
		host   string // 127.0.0.1:8080 when empty
		origin string
		want   int
		says   string
	}{
		{name: "loopback IPv4", remote: "127.0.0.1:5000", want: http.StatusOK},
		{name: "loopback IPv6", remote: "[::1]:5000", host: "[::1]:8080", want: http.StatusOK},
		{name: "localhost", remote: "127.0.0.1:5000", host: "localhost:8080", want: http.StatusOK},
		{name: "the page itself", remote: "127.0.0.1:5000", origin: "http://127.0.0.1:8080", want: http.StatusOK},
		{name: "remote", remote: "192.0.2.7:5000", want: http.StatusUnauthorized, says: "only loopback clients are served"},
		{name: "loopback behind a proxy", remote: "127.0.0.1:5000", header: "198.51.100.4", want: http.StatusUnauthorized, says: "only loopback clients are served"},
		{name: "DNS rebinding", remote: "127.0.0.1:5000", host: "evil.example:8080", want: http.StatusForbidden, says: "not a loopback name"},
		{name: "another site's page", remote: "127.0.0.1:5000", origin: "https://evil.example", want: http.StatusForbidden, says: "cross-origin"},
		{name: "another local port's page", remote: "127.0.0.1:5000", origin: "http://127.0.0.1:3000", want: http.StatusForbidden, says: "cross-origin"},
		{name: "remote with AllowOpen", auth: AuthConfig{AllowOpen: true}, remote: "192.0.2.7:5000", host: "twin.example", want: http.StatusOK},
		{name: "misconfigured auth", auth: AuthConfig{Tokens: []string{"short"}}, remote: "127.0.0.1:5000", want: http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hs := httpserver.New(nil, zerolog.Nop())
			New(Config{Log: zerolog.Nop(), Auth: tc.auth}).Register(hs)
			req := httptest.NewRequest(http.MethodGet, "/v1/authors", nil)
			req.RemoteAddr = tc.remote
			req.Host = cmp.Or(tc.host, "127.0.0.1:8080")
			if tc.header != "" {
				req.Header.Set("X-Forwarded-For", tc.header)
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			rec := httptest.NewRecorder()
			hs.Handler().ServeHTTP(rec, req)
			got := rec.Code
			if got == http.StatusServiceUnavailable { // past auth: the store is nil
				got = http.StatusOK
			}
			if got != tc.want {
				t.Fatalf("GET /v1/authors from %s = %d %s, want %d", tc.remote, rec.Code, rec.Body, tc.want)
			}
			if tc.says != "" && !strings.Contains(rec.Body.String(), tc.says) {
				t.Fatalf("%d body %s does not say why (%q)", rec.Code, rec.Body, tc.says)
			}
		})
	}
}

func TestAuthConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  AuthConfig
		ok   bool
	}{
		{"empty", AuthConfig{}, true},
		{"good", AuthConfig{Tokens: []string{testToken}, JWTSecret: []byte(testSecret)}, true},
		{"empty token", AuthConfig{Tokens: []string{""}}, false},
		{"short token", AuthConfig{Tokens: []string{"123"}}, false},
		{"short secret", AuthConfig{JWTSecret: []byte("short")}, false},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
