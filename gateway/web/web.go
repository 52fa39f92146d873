// Package web is the chat page the gateway serves at "/". The page is plain
// HTML, CSS and JavaScript compiled into the binary, so a gateway needs no
// files on disk, no build step runs before `go build`, and the page loads
// nothing from outside the gateway (it must work on a machine with no
// network but the gateway's).
//
// The page speaks the chat WebSocket protocol of /v1/chat and calls
// /v1/authors and /v1/feedback; it knows nothing else about the server. A
// second page, /traces, reads /v1/traces: how each answer was made; a
// third, /ops, reads /v1/status: lag, dead letters, freshness, training.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"sync"
	"time"
)

//go:embed static
var static embed.FS

// contentSecurityPolicy is sent with every response. Only scripts and styles
// from the gateway itself may run, so text that reaches the page from the
// server can never execute even if a bug put it into markup. connect-src lists
// ws: and wss: because some browsers do not count a WebSocket to the same host
// as 'self'.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self'; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// contentTypes is explicit because mime.TypeByExtension reads the host's
// tables, which disagree about .js across distributions.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

type asset struct {
	body        []byte
	etag        string
	contentType string
}

// assets maps a request path to what it serves; it is built once, so a
// request never touches the embedded file system or hashes anything.
var assets = sync.OnceValue(func() map[string]asset {
	m := make(map[string]asset)
	err := fs.WalkDir(static, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		m["/"+path.Base(name)] = asset{
			body:        body,
			etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
			contentType: contentTypes[path.Ext(name)],
		}
		return nil
	})
	if err != nil {
		// The files are compiled in; failing to read them is a broken build.
		panic("web: reading embedded page: " + err.Error())
	}
	m["/"] = m["/index.html"]
	m["/traces"] = m["/traces.html"]
	m["/ops"] = m["/ops.html"]
	return m
})

// Handler serves the chat page at "/", the traces page at "/traces", the
// operations page at "/ops" and their assets beside them. Any other path
// is 404, so the handler can be mounted as the catch-all "GET /" route of a
// mux without hiding the API's own 404s.
//
// Every response is revalidated (Cache-Control: no-cache) against a strong
// ETag derived from the content: a new deploy is picked up on the next load,
// and an unchanged asset costs only a 304.
func Handler() http.Handler {
	files := assets()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		// The page URL can carry ?access_token=; never send it on to the
		// sites that answer sources link to.
		h.Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		a, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", a.contentType)
		h.Set("ETag", a.etag)
		h.Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}
