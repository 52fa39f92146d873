package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/httpserver"
)

func TestConnectTellsWhereNATSIsAndKeepsPathsLocal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		nats, data string
		remote     string // the caller's address
		host       string // the Host it reached the gateway by
		want       ConnectResponse
	}{
		{name: "local caller learns the URL and the data dir", nats: "nats://127.0.0.1:4223", data: "/d",
			remote: "127.0.0.1:5000", host: "127.0.0.1:8080",
			want: ConnectResponse{NATSURL: "nats://127.0.0.1:4223", DataDir: "/d"}},
		{name: "remote caller never learns a path", nats: "nats://10.0.0.5:4222", data: "/d",
			remote: "192.0.2.1:5000", host: "10.0.0.5:8080",
			want: ConnectResponse{NATSURL: "nats://10.0.0.5:4222"}},
		{name: "every interface is answered as the host the caller used", nats: "nats://0.0.0.0:4222",
			remote: "192.0.2.1:5000", host: "twin.example.com:8080",
			want: ConnectResponse{NATSURL: "nats://twin.example.com:4222"}},
		{name: "IPv6 any", nats: "nats://[::]:4222", remote: "192.0.2.1:5000", host: "[2001:db8::1]:8080",
			want: ConnectResponse{NATSURL: "nats://[2001:db8::1]:4222"}},
		{name: "credentials in the URL are never told", nats: "nats://svc:secret@nats:4222",
			remote: "192.0.2.1:5000", host: "gw:8080", want: ConnectResponse{NATSURL: "nats://nats:4222"}},
		{name: "loopback NATS is no use to a remote caller", nats: "nats://127.0.0.1:4222",
			remote: "192.0.2.1:5000", host: "twin.example.com:8080",
			want: ConnectResponse{Reason: "NATS listens on loopback only"}},
		{name: "no listener", nats: "", data: "/d", remote: "[::1]:5000", host: "localhost:8080",
			want: ConnectResponse{DataDir: "/d", Reason: "--nats-listen off"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hs := httpserver.New(nil, zerolog.Nop())
			New(Config{Log: zerolog.Nop(), Auth: AuthConfig{AllowOpen: true},
				Connect: ConnectInfo{NATS: tt.nats, DataDir: tt.data}}).Register(hs)
			req := httptest.NewRequest(http.MethodGet, "/v1/connect", nil)
			req.RemoteAddr, req.Host = tt.remote, tt.host
			rec := httptest.NewRecorder()
			hs.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET /v1/connect = %d %s", rec.Code, rec.Body)
			}
			var got ConnectResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.NATSURL != tt.want.NATSURL || got.DataDir != tt.want.DataDir ||
				!strings.Contains(got.Reason, tt.want.Reason) || (tt.want.Reason == "") != (got.Reason == "") {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if strings.Contains(rec.Body.String(), "secret") {
				t.Errorf("the answer carries a credential: %s", rec.Body)
			}
		})
	}
}

func TestConnectNeedsTheAPIsAuth(t *testing.T) {
	t.Parallel()
	hs := httpserver.New(nil, zerolog.Nop())
	New(Config{Log: zerolog.Nop(), Auth: AuthConfig{Tokens: []string{"token-0123456789abcdef"}},
		Connect: ConnectInfo{NATS: "nats://10.0.0.5:4222", DataDir: "/d"}}).Register(hs)
	req := httptest.NewRequest(http.MethodGet, "/v1/connect", nil)
	rec := httptest.NewRecorder()
	hs.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), "10.0.0.5") {
		t.Errorf("without a token: %d %s, want 401 telling nothing", rec.Code, rec.Body)
	}
}
