package streams

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
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

	Log zerolog.Logger
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
	storeDir := filepath.Join(cfg.DataDir, "nats")
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
		ServerName:         "twin",
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
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("embedded NATS: listen address %q: %w", cfg.Listen, err)
		}
		opts.Host = host
		if opts.Port, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("embedded NATS: listen port %q: %w", port, err)
		}
	}
	opts.SyncAlways, opts.SyncInterval = cfg.SyncAlways, cfg.SyncInterval
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
