package streams

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/schemas"
)

// startListening starts a server with a TCP port and the default topology,
// as twin up runs it, and returns it with its client URL.
func startListening(t *testing.T, dir string) (*Server, string) {
	t.Helper()
	srv, err := StartServer(ServerConfig{DataDir: dir, Listen: "127.0.0.1:-1", MaxMemory: 64 * mib, MaxStore: gib, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv, srv.ClientURL()
}

func TestServerRefusesClientsWithoutValidCredentials(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, url := startListening(t, dir)

	stranger, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	strangerSeed, _ := stranger.Seed()
	strangerFile := dir + "/stranger.nk"
	if err := os.WriteFile(strangerFile, strangerSeed, 0o600); err != nil {
		t.Fatal(err)
	}
	strangerOpt, err := CredentialsOption(strangerFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opts []nats.Option
	}{
		{"no credentials", nil},
		{"a user and password", []nats.Option{nats.UserInfo("admin", "admin")}},
		{"a token", []nats.Option{nats.Token("s3cr3t")}},
		{"an nkey the server does not know", []nats.Option{strangerOpt}},
	} {
		t.Run(c.name, func(t *testing.T) {
			nc, err := nats.Connect(url, append(c.opts, nats.Timeout(5*time.Second))...)
			if err == nil {
				nc.Close()
				t.Fatalf("connected with %s; want the server to refuse", c.name)
			}
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Fatalf("connect with %s: %v; want an authorization violation", c.name, err)
			}
		})
	}

	for _, r := range Roles() {
		opt, err := CredentialsOption(SeedFile(dir, r))
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(url, opt)
		if err != nil {
			t.Fatalf("connect as %s with %s: %v", r, SeedFile(dir, r), err)
		}
		nc.Close()
	}
}

func TestPublisherMayOnlyPublishCrawlRequests(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, url := startListening(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	admin, err := srv.ConnectAs(RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ajs, _ := jetstream.New(admin)
	if err := DefaultTopology().FitStore(900<<20-BucketBytes).Apply(ctx, ajs); err != nil {
		t.Fatal(err)
	}
	if _, err := ajs.Publish(ctx, schemas.DLQ("writer"), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}

	// A remote publisher: over TCP with its seed file, as a client would.
	seed, err := CredentialsOption(SeedFile(dir, RolePublisher))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, seed, nats.CustomInboxPrefix(PublisherInboxPrefix), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)

	// What it may do, with the JetStream ack it needs to know it landed.
	ack, err := js.Publish(ctx, schemas.SubjectCrawlRequests, []byte(`{"url":"https://example.com/a"}`))
	if err != nil || ack.Stream != StreamCrawl {
		t.Fatalf("publish a crawl request as publisher: %+v %v", ack, err)
	}

	refused := func(what string, do func() error) {
		t.Helper()
		err := do()
		if ferr := nc.Flush(); ferr != nil && err == nil {
			err = ferr
		}
		last := nc.LastError()
		if last == nil || !strings.Contains(strings.ToLower(last.Error()), "permissions violation") {
			t.Errorf("%s as publisher: err %v, last error %v; want a permissions violation", what, err, last)
		}
	}
	refused("subscribe to chat replies", func() error {
		_, err := nc.SubscribeSync(schemas.SubjectChatRepliesAll)
		return err
	})
	refused("subscribe to everyone's inboxes", func() error {
		_, err := nc.SubscribeSync("_INBOX.>")
		return err
	})
	refused("purge the DLQ", func() error {
		_, err := nc.Request("$JS.API.STREAM.PURGE."+StreamDLQ, nil, 500*time.Millisecond)
		return err
	})
	refused("publish a crawled document", func() error {
		return nc.Publish(schemas.DocsCrawled(schemas.KindArticle), []byte(`{}`))
	})

	// Nothing it was refused happened.
	for stream, want := range map[string]uint64{StreamDLQ: 1, StreamDocs: 0, StreamCrawl: 1} {
		s, err := ajs.Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs != want {
			t.Errorf("%s holds %d messages after the publisher's attempts, want %d", stream, info.State.Msgs, want)
		}
	}
}

func TestCredentialsAreOwnerOnlyAndReusedOnRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, _ := startListening(t, dir)
	seeds := map[Role][]byte{}
	for _, r := range Roles() {
		raw, err := os.ReadFile(SeedFile(dir, r))
		if err != nil {
			t.Fatal(err)
		}
		seeds[r] = raw
	}
	check := func(path string, want os.FileMode) {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
	check(AuthDir(dir), 0o700)
	for _, r := range Roles() {
		check(SeedFile(dir, r), 0o600)
	}
	check(ContextFile(dir, RoleAdmin), 0o600)
	srv.Shutdown()

	// A copy that loosened the modes is tightened again at start.
	if err := os.Chmod(SeedFile(dir, RoleAdmin), 0o644); err != nil {
		t.Fatal(err)
	}
	_, url := startListening(t, dir)
	check(SeedFile(dir, RoleAdmin), 0o600)
	for _, r := range Roles() {
		raw, err := os.ReadFile(SeedFile(dir, r))
		if err != nil || string(raw) != string(seeds[r]) {
			t.Fatalf("the %s seed changed across a restart (%v)", r, err)
		}
	}
	opt, err := CredentialsOption(SeedFile(dir, RoleAdmin))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, opt)
	if err != nil {
		t.Fatalf("the admin seed of the first start no longer connects: %v", err)
	}
	nc.Close()
}

func TestSystemRoleCannotDeleteOrPurgeTheTopologysStreams(t *testing.T) {
	t.Parallel()
	srv, _ := startListening(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := func(r Role) (*nats.Conn, jetstream.JetStream) {
		nc, err := srv.ConnectAs(r, nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, _ := jetstream.New(nc)
		return nc, js
	}
	sysNC, sys := conn(RoleSystem)
	_, admin := conn(RoleAdmin)
	// Everything else a component does still works: apply, publish.
	if err := DefaultTopology().FitStore(900<<20-BucketBytes).Apply(ctx, sys); err != nil {
		t.Fatalf("apply the topology as system: %v", err)
	}
	if _, err := sys.Publish(ctx, schemas.DLQ("writer"), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		do   func(context.Context) error
	}{
		{"purge the DLQ", func(ctx context.Context) error {
			_, err := sysNC.Request("$JS.API.STREAM.PURGE."+StreamDLQ, nil, 500*time.Millisecond)
			return err
		}},
		{"delete the DOCS stream", func(ctx context.Context) error { return sys.DeleteStream(ctx, StreamDocs) }},
	} {
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		err := c.do(cctx)
		ccancel()
		last := sysNC.LastError()
		if err == nil || last == nil || !strings.Contains(strings.ToLower(last.Error()), "permissions violation") {
			t.Errorf("%s as system: err %v, last error %v; want a permissions violation", c.what, err, last)
		}
	}
	for _, name := range []string{StreamDLQ, StreamDocs} {
		if _, err := admin.Stream(ctx, name); err != nil {
			t.Fatalf("stream %s after the system role's attempts: %v", name, err)
		}
	}
	// The operator may.
	s, err := admin.Stream(ctx, StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := s.Info(ctx); err != nil || info.State.Msgs != 1 {
		t.Fatalf("DLQ after the system role's purge: %+v %v; want its 1 letter", info, err)
	}
	if err := s.Purge(ctx); err != nil {
		t.Fatalf("purge the DLQ as admin: %v", err)
	}
}

// FuzzReadSeed feeds any bytes to the seed reader, as a damaged or
// foreign file in nats-auth would: it must refuse them or return a user
// key, never panic.
func FuzzReadSeed(f *testing.F) {
	kp, _ := nkeys.CreateUser()
	seed, _ := kp.Seed()
	acct, _ := nkeys.CreateAccount()
	acctSeed, _ := acct.Seed()
	f.Add(seed)
	f.Add(append(seed, '\n'))
	f.Add(acctSeed)
	f.Add([]byte("-----BEGIN USER NKEY SEED-----\n" + string(seed) + "\n------END USER NKEY SEED------\n"))
	f.Add([]byte(""))
	f.Add([]byte("SU"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := dir + "/seed.nk"
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		kp, err := readSeed(path)
		if err != nil {
			return
		}
		pub, err := kp.PublicKey()
		if err != nil || !nkeys.IsValidPublicUserKey(pub) {
			t.Fatalf("readSeed accepted %q as a user seed: %q %v", data, pub, err)
		}
	})
}
