package streams

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/schemas"
)

// Role is who a connection to the embedded server is. Each role is one
// nkey user: the server holds only its public key and permissions, the
// seed (the secret) lives in an owner-only file of the data dir.
//
// nkeys rather than passwords: the server's config then holds no secret
// at all, a client proves it holds the seed by signing a nonce (nothing
// reusable crosses the wire), and nats.go and the nats CLI read a seed
// file natively (nats.NkeyOptionFromSeed, nats --nkey).
type Role string

const (
	// RoleSystem is the components' own connection: the in-process one of
	// twin up, and twin run. It creates the topology and runs every
	// consumer, so it may use any subject; but it cannot delete or purge
	// a stream of the topology: wiping data is the operator's call, and a
	// stolen system seed (it is handed to twin run hosts) must not do it.
	RoleSystem Role = "system"
	// RoleAdmin is the operator's: client commands (status, streams, dlq,
	// import, --wait) and the nats CLI. Unrestricted, since managing
	// streams and dead letters is its job.
	RoleAdmin Role = "admin"
	// RolePublisher may only publish crawl requests, and receive the
	// replies to its own requests (JetStream publish acks) under
	// PublisherInboxPrefix: hand it to anything that only feeds URLs in.
	RolePublisher Role = "publisher"
)

// Roles are every role, in the order their credentials are made.
func Roles() []Role { return []Role{RoleSystem, RoleAdmin, RolePublisher} }

// PublisherInboxPrefix is the inbox prefix a publisher connection must set
// (nats.CustomInboxPrefix, nats --inbox-prefix) to get replies, such as
// the ack of a JetStream publish. A publisher may subscribe to nothing
// else: under the default _INBOX.> it could read the replies, and so the
// fetched messages, of every other client.
const PublisherInboxPrefix = "_INBOX_publisher"

// permissions are what role may do; nil is everything.
func (r Role) permissions() *server.Permissions {
	switch r {
	case RolePublisher:
		return &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: []string{schemas.SubjectCrawlRequests}},
			Subscribe: &server.SubjectPermission{Allow: []string{PublisherInboxPrefix + ".>"}},
		}
	case RoleSystem:
		var deny []string
		for _, st := range DefaultTopology().Streams {
			deny = append(deny, "$JS.API.STREAM.DELETE."+st.Name, "$JS.API.STREAM.PURGE."+st.Name)
		}
		return &server.Permissions{Publish: &server.SubjectPermission{Deny: deny}}
	}
	return nil
}

// AuthDir is where the credentials of the embedded server live.
func AuthDir(dataDir string) string { return filepath.Join(dataDir, "nats-auth") }

// SeedFile is the nkey seed file of role: what a client on this machine
// passes to nats.NkeyOptionFromSeed, or the nats CLI to --nkey.
func SeedFile(dataDir string, r Role) string {
	return filepath.Join(AuthDir(dataDir), string(r)+".nk")
}

// ContextFile is a nats CLI context for role, written at each start with
// the server's current URL.
func ContextFile(dataDir string, r Role) string {
	return filepath.Join(AuthDir(dataDir), string(r)+".context.json")
}

// ErrCredentials matches every error of reading or making credentials.
var ErrCredentials = errors.New("NATS credentials")

// credentials are the key pairs of every role.
type credentials map[Role]nkeys.KeyPair

// loadOrCreateCredentials reads the seed of every role from the data dir,
// making the missing ones. The directory is 0700 and every file 0600: a
// looser mode found there (a copy, a restore) is tightened, with a
// warning, since anyone who reads a seed is that user.
func loadOrCreateCredentials(dataDir string, log zerolog.Logger) (credentials, error) {
	dir := AuthDir(dataDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	if err := tighten(dir, 0o700, log); err != nil {
		return nil, err
	}
	creds := credentials{}
	for _, r := range Roles() {
		path := SeedFile(dataDir, r)
		kp, err := readSeed(path)
		if errors.Is(err, fs.ErrNotExist) {
			if kp, err = createSeed(path); err == nil {
				log.Info().Str("role", string(r)).Str("file", path).Msg("created NATS credentials")
			}
		} else if err == nil {
			err = tighten(path, 0o600, log)
		}
		if err != nil {
			return nil, err
		}
		creds[r] = kp
	}
	return creds, nil
}

// tighten makes path's mode want when it grants more than the owner's
// bits of want.
func tighten(path string, want fs.FileMode, log zerolog.Logger) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	log.Warn().Str("path", path).Str("mode", fi.Mode().Perm().String()).Msg("NATS credentials were readable by others: made owner-only")
	if err := os.Chmod(path, want); err != nil {
		return fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	return nil
}

func readSeed(path string) (nkeys.KeyPair, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	kp, err := nkeys.ParseDecoratedNKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCredentials, path, err)
	}
	if pub, err := kp.PublicKey(); err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return nil, fmt.Errorf("%w: %s holds no user nkey seed", ErrCredentials, path)
	}
	return kp, nil
}

// createSeed makes a user nkey and writes its seed to path, atomically:
// a crash leaves either no file or a whole one.
func createSeed(path string) (nkeys.KeyPair, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	// Linked, not renamed, into place: when the nodes of a cluster make
	// the credentials at the same first start, one wins and the others
	// read its seed instead of overwriting it with theirs.
	switch err := linkFileAtomic(path, append(seed, '\n')); {
	case errors.Is(err, fs.ErrExist):
		return readSeed(path)
	case err != nil:
		return nil, err
	}
	return kp, nil
}

// linkFileAtomic is writeFileAtomic that fails with fs.ErrExist instead of
// replacing a file already at path.
func linkFileAtomic(path string, data []byte) error {
	tmp, err := syncedTemp(path, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	err = os.Link(tmp, path)
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	if err != nil {
		return fmt.Errorf("%w: write %s: %w", ErrCredentials, path, err)
	}
	return nil
}

// writeFileAtomic writes data to path through a 0600 temporary file in the
// same directory, synced before the rename.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := syncedTemp(path, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%w: write %s: %w", ErrCredentials, path, err)
	}
	return nil
}

// syncedTemp writes data to a new 0600 temporary file in path's directory
// and syncs it, for the caller to move to path; on an error it leaves no
// file behind.
func syncedTemp(path string, data []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("%w: write %s: %w", ErrCredentials, path, err)
	}
	return f.Name(), nil
}

// nkeyUsers are the server's users: public keys and permissions only.
func (c credentials) nkeyUsers() ([]*server.NkeyUser, error) {
	var users []*server.NkeyUser
	for _, r := range Roles() {
		pub, err := c[r].PublicKey()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCredentials, err)
		}
		users = append(users, &server.NkeyUser{Nkey: pub, Permissions: r.permissions()})
	}
	return users, nil
}

// routeUser is the user cluster members authenticate their routes as.
const routeUser = "twin-route"

// routePassword is the password of the routes between cluster members: an
// HMAC of a fixed label under the admin seed, so every node holding the
// same credentials derives the same one, and nothing else can.
func (c credentials) routePassword() (string, error) {
	kp, ok := c[RoleAdmin]
	if !ok {
		return "", fmt.Errorf("%w: no admin seed", ErrCredentials)
	}
	seed, err := kp.Seed()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	mac := hmac.New(sha256.New, seed)
	mac.Write([]byte("twin nats cluster routes v1"))
	return hex.EncodeToString(mac.Sum(nil)), nil
}

// option authenticates a connection as role with its key pair in memory.
func (c credentials) option(r Role) (nats.Option, error) {
	kp, ok := c[r]
	if !ok {
		return nil, fmt.Errorf("%w: no role %q", ErrCredentials, r)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	return nats.Nkey(pub, kp.Sign), nil
}

// natsContext is the part of a nats CLI context file that twin writes.
type natsContext struct {
	Description string `json:"description"`
	URL         string `json:"url,omitempty"`
	NKey        string `json:"nkey"`
	InboxPrefix string `json:"inbox_prefix,omitempty"`
}

// writeContexts writes a nats CLI context for the operator's and the
// publisher's role, pointing at url and at the seed files.
func writeContexts(dataDir, url string) error {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	for _, c := range []struct {
		role  Role
		desc  string
		inbox string
	}{
		{RoleAdmin, "twin operator (every subject and stream)", ""},
		{RolePublisher, "twin publisher (publishes crawl requests only)", PublisherInboxPrefix},
	} {
		data, err := json.MarshalIndent(natsContext{Description: c.desc, URL: url, NKey: SeedFile(abs, c.role), InboxPrefix: c.inbox}, "", "  ")
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCredentials, err)
		}
		if err := writeFileAtomic(ContextFile(dataDir, c.role), append(data, '\n')); err != nil {
			return err
		}
	}
	return nil
}

// CredentialsOption authenticates a client with the file at path: a
// standard NATS .creds file (a user JWT and its seed, for a server run
// with an operator), or an nkey seed file such as the ones twin up keeps
// in <data>/nats-auth.
func CredentialsOption(path string) (nats.Option, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	if strings.Contains(string(raw), "BEGIN NATS USER JWT") {
		return nats.UserCredentials(path), nil
	}
	opt, err := nats.NkeyOptionFromSeed(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is neither a .creds file nor an nkey seed: %w", ErrCredentials, path, err)
	}
	return opt, nil
}
