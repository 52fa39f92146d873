// Package local crawls files and directories of the machine the crawler
// runs on: Markdown, HTML and plain text, given as file:// URLs. It is off
// unless enabled (twin's --crawl-local), and can be restricted to
// directories under configured roots.
//
// Paths are checked after every symbolic link in them is resolved, so
// neither ".." nor a link can lead outside the roots; files are then opened
// through an os.Root, so a link swapped in after the check cannot either.
//
// An error that no retry can fix (local crawling is disabled, the path is
// outside the roots, does not exist, is not a supported file, or holds
// nothing to index) is a streams.Permanent one.
package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/twin-llm/twin/internal/urlnorm"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// Defaults of Config's zero values.
const (
	DefaultMaxFiles     = 10_000
	DefaultMaxFileBytes = 10 << 20
)

// Config tunes a Source.
type Config struct {
	// Enabled turns local crawling on; when false, Crawl refuses every URL.
	Enabled bool
	// Roots, when not empty, restricts crawling to files under these
	// directories (after resolving symbolic links on both sides).
	Roots []string
	// MaxFiles caps the documents made from one directory. Default
	// DefaultMaxFiles.
	MaxFiles int
	// MaxFileBytes skips larger files. Default DefaultMaxFileBytes.
	MaxFileBytes int64
}

// Source crawls local files. It is safe for concurrent use.
type Source struct {
	cfg Config
}

// New returns a Source, with Config's zero values replaced by defaults.
func New(cfg Config) *Source {
	if cfg.MaxFiles <= 0 {
		cfg.MaxFiles = DefaultMaxFiles
	}
	if cfg.MaxFileBytes <= 0 {
		cfg.MaxFileBytes = DefaultMaxFileBytes
	}
	cfg.Roots = slices.Clone(cfg.Roots)
	return &Source{cfg: cfg}
}

// Name returns "local".
func (s *Source) Name() string { return "local" }

// Match reports whether u is a file:// URL. Whether local crawling is
// enabled is Crawl's business, so that a disabled source refuses with a
// clear reason instead of leaving the URL to another source.
func (s *Source) Match(u *url.URL) bool { return u != nil && u.Scheme == "file" }

// Crawl returns one document for a supported file, or one per supported
// file under a directory, in path order. author is who the documents are
// attributed to; empty means the author named in a file's front matter or
// page metadata, if any.
func (s *Source) Crawl(ctx context.Context, rawURL, author string) ([]schemas.CrawledDocument, error) {
	if !s.cfg.Enabled {
		return nil, streams.Permanent(errors.New("local: crawling local files is not enabled (--crawl-local)"))
	}
	p, err := pathOf(rawURL)
	if err != nil {
		return nil, streams.Permanent(fmt.Errorf("local: %w", err))
	}
	roots, err := resolveRoots(s.cfg.Roots)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	c := &crawl{cfg: s.cfg, roots: roots, restricted: len(s.cfg.Roots) > 0, author: author}

	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil, c.fsError(p, err)
	}
	if _, _, err := c.locate(resolved); err != nil {
		return nil, err
	}
	info, err := os.Stat(resolved)
	if err != nil {
		return nil, c.fsError(p, err)
	}
	switch {
	case info.IsDir():
		return c.dir(ctx, p, resolved)
	case info.Mode().IsRegular():
		doc, err := c.file(ctx, p, resolved)
		if err != nil {
			return nil, err
		}
		return []schemas.CrawledDocument{doc}, nil
	}
	return nil, streams.Permanent(fmt.Errorf("local: %s is not a regular file or directory", p))
}

// crawl is one Crawl call: the configuration, with the roots resolved once.
type crawl struct {
	cfg        Config
	roots      []string // resolved, absolute: the existing roots
	restricted bool     // roots were configured (even if none exists)
	author     string
}

// dir makes a document of every supported file under dir (resolved: its
// real path), up to cfg.MaxFiles. Hidden and vendored directories are not
// entered, links to directories are not followed (they could loop), and
// links to files are followed if their target is allowed. Files that cannot
// be indexed (too large, binary, empty) are skipped, and so is a link to a
// file already read.
func (c *crawl) dir(ctx context.Context, dir, resolved string) ([]schemas.CrawledDocument, error) {
	// Names first, sorted, so the cap keeps the same files every time and
	// the documents come in path order.
	var rels []string
	err := filepath.WalkDir(resolved, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == resolved {
				return err
			}
			// An unreadable subdirectory should not lose the rest.
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == resolved {
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if hidden(name) || vendoredDirs[strings.ToLower(name)] {
				return fs.SkipDir
			}
			return nil
		}
		if hidden(name) || formatOf(name) == "" {
			return nil
		}
		rel, err := filepath.Rel(resolved, p)
		if err != nil {
			return err
		}
		rels = append(rels, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, c.fsError(dir, err)
	}
	slices.Sort(rels)

	var docs []schemas.CrawledDocument
	seen := map[string]bool{} // real paths already made into documents
	for _, rel := range rels {
		if len(docs) >= c.cfg.MaxFiles {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		real, err := filepath.EvalSymlinks(filepath.Join(resolved, filepath.FromSlash(rel)))
		if err != nil || seen[real] {
			continue // a dangling link, the file went away, or a link to a file already read
		}
		seen[real] = true
		doc, err := c.file(ctx, filepath.Join(dir, filepath.FromSlash(rel)), real)
		switch {
		case errors.Is(err, streams.ErrPermanent):
			continue
		case err != nil:
			return nil, err
		}
		docs = append(docs, doc)
	}
	if len(docs) == 0 {
		return nil, streams.Permanent(fmt.Errorf("local: %s: nothing to index: no readable %s file in it",
			dir, supportedList))
	}
	return docs, nil
}

// file makes the document of the file at p, whose real path is resolved.
func (c *crawl) file(ctx context.Context, p, resolved string) (schemas.CrawledDocument, error) {
	root, rel, err := c.locate(resolved)
	if err != nil {
		return schemas.CrawledDocument{}, err
	}
	format := formatOf(p)
	if format == "" {
		return schemas.CrawledDocument{}, streams.Permanent(fmt.Errorf("local: %s: unsupported file type %q (supported: %s)",
			p, filepath.Ext(p), supportedList))
	}
	// Opening through the root refuses a link swapped in after locate
	// checked the path.
	f, err := os.OpenInRoot(root, rel)
	if err != nil {
		return schemas.CrawledDocument{}, c.fsError(p, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return schemas.CrawledDocument{}, c.fsError(p, err)
	}
	if !info.Mode().IsRegular() {
		return schemas.CrawledDocument{}, streams.Permanent(fmt.Errorf("local: %s is not a regular file", p))
	}
	data, err := readCapped(f, c.cfg.MaxFileBytes)
	if err != nil {
		return schemas.CrawledDocument{}, fmt.Errorf("local: %s: %w", p, err)
	}
	return c.document(ctx, p, format, data, info)
}

// locate returns the root directory that holds resolved and resolved's path
// relative to it, or a permanent error when no root holds it. Without
// roots, the root is the file system's.
func (c *crawl) locate(resolved string) (root, rel string, err error) {
	if !c.restricted {
		root = filepath.VolumeName(resolved) + string(filepath.Separator)
		rel, err = filepath.Rel(root, resolved)
		return root, rel, err
	}
	for _, root := range c.roots {
		if rel, ok := within(root, resolved); ok {
			return root, rel, nil
		}
	}
	return "", "", streams.Permanent(fmt.Errorf("local: %s is outside the allowed directories (%s)",
		resolved, strings.Join(c.cfg.Roots, ", ")))
}

// fsError classifies an error of the file system about p: a missing or
// forbidden file stays so; other errors (I/O, or os.Root refusing a link
// swapped in during the crawl, which the next attempt's check refuses
// for good) are worth a retry.
func (c *crawl) fsError(p string, err error) error {
	err = fmt.Errorf("local: %s: %w", p, err)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ELOOP) {
		return streams.Permanent(err)
	}
	return err
}

// within returns path relative to root, if path is root or under it. Both
// are absolute, clean and resolved.
func within(root, path string) (string, bool) {
	rel, err := filepath.Rel(root, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return rel, true
}

// resolveRoots makes the roots absolute and resolves their links, so they
// compare with resolved paths. A root that does not exist holds nothing
// and is dropped.
func resolveRoots(roots []string) ([]string, error) {
	var out []string
	for _, r := range roots {
		abs, err := filepath.Abs(r)
		if err != nil {
			return nil, fmt.Errorf("root %q: %w", r, err)
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			continue
		}
		out = append(out, real)
	}
	return out, nil
}

// pathOf returns the absolute, clean local path a file URL names.
func pathOf(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	if u.Scheme != "file" {
		return "", fmt.Errorf("%s is not a file:// URL", rawURL)
	}
	if h := strings.ToLower(u.Host); h != "" && h != "localhost" {
		return "", fmt.Errorf("%s: file URLs on another host are not supported", rawURL)
	}
	p := filepath.FromSlash(u.Path)
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("%s: a file URL needs an absolute path (file:///path)", rawURL)
	}
	return filepath.Clean(p), nil
}

// fileURL returns the normalized file:// URL of the absolute path p, as
// the crawl dispatcher would normalize it, so that a file crawled alone and
// the same file crawled in its directory are one document.
func fileURL(p string) string {
	u := "file://" + (&url.URL{Path: filepath.ToSlash(p)}).EscapedPath()
	if norm, err := urlnorm.Normalize(u, urlnorm.Options{AllowLocal: true}); err == nil {
		return norm
	}
	return u
}

func hidden(name string) bool { return strings.HasPrefix(name, ".") }

// vendoredDirs are not walked into: dependencies, build output and caches,
// none of them written by the author.
var vendoredDirs = map[string]bool{
	"vendor": true, "node_modules": true, "third_party": true, ".git": true,
	"dist": true, "build": true, "target": true, "__pycache__": true, ".venv": true,
}
