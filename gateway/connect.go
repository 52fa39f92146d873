package gateway

import (
	"net"
	"net/http"
	neturl "net/url"

	"github.com/twin-llm/twin/internal/httpserver"
)

// ConnectInfo is what GET /v1/connect tells a client about reaching the
// system's NATS, so that a client given only the gateway's address (twin
// import, dlq, the --wait commands) finds the rest.
type ConnectInfo struct {
	// NATS is the URL outside clients reach NATS at, without credentials;
	// empty when NATS takes no outside clients (--nats-listen off). A host
	// of 0.0.0.0 or :: is answered as the host the caller reached the
	// gateway by.
	NATS string
	// DataDir is the data dir of an embedded NATS, where its role seeds
	// live (owner-only). It is told to callers on this machine only: a
	// path is no use elsewhere, and the seeds themselves are never sent.
	DataDir string
}

// ConnectResponse is the body of GET /v1/connect.
type ConnectResponse struct {
	// NATSURL is where NATS clients connect; empty: nowhere from outside.
	NATSURL string `json:"nats_url"`
	// DataDir is where a client on the gateway's machine finds the NATS
	// credentials (<data>/nats-auth); only loopback callers get it.
	DataDir string `json:"data_dir,omitempty"`
	// Reason says why NATSURL is empty.
	Reason string `json:"reason,omitempty"`
}

// connect answers GET /v1/connect. It is behind the API's auth like every
// /v1 route: a caller that may use the API learns where NATS listens, but
// never a credential; NATS asks for its own.
func (g *Gateway) connect(w http.ResponseWriter, r *http.Request) {
	var resp ConnectResponse
	local := isLoopback(r)
	switch url := advertised(g.cfg.Connect.NATS, r.Host); {
	case url == "":
		resp.Reason = "NATS takes no clients from outside this process (--nats-listen off)"
	case !local && loopbackNATS(url):
		// Told to a remote caller, 127.0.0.1 would send it to its own
		// machine: say why it cannot connect instead.
		resp.Reason = "NATS listens on loopback only (" + url + "): start twin up with --nats-listen on a reachable address, or tell clients another with --nats-advertise"
	default:
		resp.NATSURL = url
	}
	if local {
		resp.DataDir = g.cfg.Connect.DataDir
	}
	httpserver.WriteJSON(w, http.StatusOK, resp)
}

// advertised is natsURL with any user and password removed and an
// unspecified host (a server listening on every interface) replaced by the
// host of reqHost, the address the caller used for the gateway.
func advertised(natsURL, reqHost string) string {
	u, err := neturl.Parse(natsURL)
	if err != nil || u.Host == "" {
		return ""
	}
	u.User = nil
	host, port := u.Hostname(), u.Port()
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		h, _, err := net.SplitHostPort(reqHost)
		if err != nil {
			h = reqHost
		}
		if h == "" {
			h = "127.0.0.1"
		}
		if port == "" {
			u.Host = h
		} else {
			u.Host = net.JoinHostPort(h, port)
		}
	}
	return u.String()
}

// loopbackNATS reports whether a NATS URL names this machine only.
func loopbackNATS(natsURL string) bool {
	u, err := neturl.Parse(natsURL)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}
