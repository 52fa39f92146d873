package streams

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// ServerConfig configures the embedded nats-server.
type ServerConfig struct {
	// DataDir holds the JetStream file store under DataDir/nats. Required:
	// an empty store dir would silently use the OS temp dir.
	DataDir string
	// Listen is host:port for outside clients (the nats CLI, exporters);
	// empty keeps the server in-process only. Port -1 picks a free one.
	Listen string
	// MaxMemory and MaxStore bound JetStream; the server's defaults (75% of
	// RAM, all free disk) are not limits anyone chose.
	MaxMemory int64
	MaxStore  int64

	// SyncAlways has the store fsync every message before the publish is
	// acknowledged; else it syncs every SyncInterval in the background
	// (0: nats-server's default, 2 minutes), and an OS crash or power cut
	// can lose acknowledged messages of that window.
	SyncAlways   bool
	SyncInterval time.Duration

	// Name is the server's name, unique within a cluster; default "twin".
	Name string
	// StoreDir is where the JetStream store lives; default DataDir/nats.
	// The credentials are always DataDir's (AuthDir), so the members of a
	// cluster on one machine share one data dir and have a store each.
	StoreDir string
	// Cluster, when set, makes the server a member of a cluster.
	Cluster *ClusterConfig
	// Monitor is host:port of nats-server's HTTP monitoring (/varz, /jsz,
	// /healthz); empty serves none.
	Monitor string

	Log zerolog.Logger
}

// ClusterConfig makes a server a cluster member.
type ClusterConfig struct {
	Name   string   // the cluster's name, the same on every member; default "twin"
	Listen string   // host:port of this member's route listener
	Routes []string // nats://host:port of the members' route listeners
}

// Server is an embedded nats-server with JetStream. Authentication is
// always on: every connection, the in-process ones included, is one of
// the Roles, with the credentials kept in the data dir (see AuthDir).
type Server struct {
	ns    *server.Server
	creds credentials
}

// StartServer starts the embedded server and waits until it accepts
// connections. On the same DataDir it resumes every stream, message and
// consumer position of the last run, and reuses the credentials it made
// at the first.
func StartServer(cfg ServerConfig) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("embedded NATS: no data dir")
	}
	if cfg.MaxMemory <= 0 || cfg.MaxStore <= 0 {
		return nil, errors.New("embedded NATS: memory and store limits must be set")
	}
	storeDir := cfg.StoreDir
	if storeDir == "" {
		storeDir = filepath.Join(cfg.DataDir, "nats")
	}
	if err := os.MkdirAll(storeDir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	creds, err := loadOrCreateCredentials(cfg.DataDir, cfg.Log)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	users, err := creds.nkeyUsers()
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	opts := &server.Options{
		ServerName:         cmp.Or(cfg.Name, "twin"),
		JetStream:          true,
		StoreDir:           storeDir,
		JetStreamMaxMemory: cfg.MaxMemory,
		JetStreamMaxStore:  cfg.MaxStore,
		MaxPayload:         MaxPayload,
		NoSigs:             true, // the twin process owns signal handling
		DontListen:         cfg.Listen == "",
		Nkeys:              users,
	}
	if cfg.Listen != "" {
		if opts.Host, opts.Port, err = splitHostPort(cfg.Listen); err != nil {
			return nil, fmt.Errorf("embedded NATS: listen address: %w", err)
		}
	}
	opts.SyncAlways, opts.SyncInterval = cfg.SyncAlways, cfg.SyncInterval
	if cfg.Monitor != "" {
		if opts.HTTPHost, opts.HTTPPort, err = splitHostPort(cfg.Monitor); err != nil {
			return nil, fmt.Errorf("embedded NATS: monitor address: %w", err)
		}
	}
	if cfg.Cluster != nil {
		if err := clusterOptions(opts, *cfg.Cluster, creds); err != nil {
			return nil, fmt.Errorf("embedded NATS: %w", err)
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	ns.SetLoggerV2(natsLogger{cfg.Log.With().Str("component", "nats-server").Logger()}, false, false, false)
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("embedded NATS: not ready after 30s (is %s in use?)", cfg.Listen)
	}
	s := &Server{ns: ns, creds: creds}
	if err := writeContexts(cfg.DataDir, s.ClientURL()); err != nil {
		s.Shutdown()
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	return s, nil
}

// splitHostPort splits host:port with a numeric port (-1 picks a free one).
func splitHostPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%q: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, fmt.Errorf("%q: port %q is not a number", addr, port)
	}
	return host, p, nil
}

// clusterOptions makes opts a member of the cluster c. Routes authenticate
// with a password derived from the shared credentials: a node that does
// not hold the same seeds cannot join, and there is no other secret to
// hand out.
func clusterOptions(opts *server.Options, c ClusterConfig, creds credentials) error {
	host, port, err := splitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("cluster address: %w", err)
	}
	pass, err := creds.routePassword()
	if err != nil {
		return err
	}
	opts.Cluster = server.ClusterOpts{Name: cmp.Or(c.Name, "twin"), Host: host, Port: port, Username: routeUser, Password: pass}
	for _, r := range c.Routes {
		u, err := url.Parse(strings.TrimSpace(r))
		if err != nil || u.Host == "" {
			return fmt.Errorf("route %q: want nats://host:port", r)
		}
		u.User = url.UserPassword(routeUser, pass)
		opts.Routes = append(opts.Routes, u)
	}
	return nil
}

// Connect opens an in-process client connection as RoleSystem, which
// needs no port.
func (s *Server) Connect(opts ...nats.Option) (*nats.Conn, error) {
	return s.ConnectAs(RoleSystem, opts...)
}

// ConnectAs opens an in-process client connection as role. A publisher's
// connection gets PublisherInboxPrefix, its only inbox.
func (s *Server) ConnectAs(role Role, opts ...nats.Option) (*nats.Conn, error) {
	auth, err := s.creds.option(role)
	if err != nil {
		return nil, err
	}
	base := []nats.Option{nats.InProcessServer(s.ns), nats.Name("twin"), nats.MaxReconnects(-1), auth}
	if role == RolePublisher {
		base = append(base, nats.CustomInboxPrefix(PublisherInboxPrefix))
	}
	return nats.Connect("", append(base, opts...)...)
}

// ClientURL is where outside clients connect, or "" when not listening.
func (s *Server) ClientURL() string {
	if s.ns.Addr() == nil {
		return ""
	}
	return s.ns.ClientURL()
}

// Shutdown stops the server and waits until its store is closed, so the
// data dir can be reopened or removed right after.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// natsLogger routes nats-server's logs into zerolog.
type natsLogger struct{ log zerolog.Logger }

func (l natsLogger) Noticef(format string, v ...any) { l.log.Debug().Msgf(format, v...) }
func (l natsLogger) Warnf(format string, v ...any)   { l.log.Warn().Msgf(format, v...) }
func (l natsLogger) Fatalf(format string, v ...any)  { l.log.Error().Msgf(format, v...) }
func (l natsLogger) Errorf(format string, v ...any)  { l.log.Error().Msgf(format, v...) }
func (l natsLogger) Debugf(format string, v ...any)  { l.log.Trace().Msgf(format, v...) }
func (l natsLogger) Tracef(format string, v ...any)  { l.log.Trace().Msgf(format, v...) }

// Sync is how the running store syncs to disk, as the server applied it.
func (s *Server) Sync() (always bool, interval time.Duration) {
	c := s.ns.JetStreamConfig()
	if c == nil {
		return false, 0
	}
	return c.SyncAlways, c.SyncInterval
}
