// Package github crawls GitHub repositories: a shallow clone of one branch,
// whose text files (see filter.go for which) become one repository document.
//
// The clone is bare, into a temporary directory removed before Crawl
// returns: files are read from the git objects, so a file the filters skip
// is never written to disk, and its size is known before it is read.
//
// An error that no retry can fix (the URL is not a repository, the
// repository does not exist or is private, the branch does not exist, or
// nothing in it is worth indexing) is a streams.Permanent one; others
// (network, timeouts) are worth retrying.
package github

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// Defaults of Config's zero values.
const (
	DefaultMaxRepoBytes = 50 << 20
	DefaultMaxFileBytes = 256 << 10
	DefaultTimeout      = 5 * time.Minute
)

// Config tunes a Source. The zero value is usable.
type Config struct {
	// CloneURL returns the address to clone owner/repo from. Nil means
	// https://github.com/owner/repo.git; tests point it at a local
	// repository (a file:// URL or a plain directory path).
	CloneURL func(owner, repo string) string
	// MaxRepoBytes caps the bytes of text kept from one repository; the
	// files after the cap (in path order) are left out and the document
	// says it was truncated. Default DefaultMaxRepoBytes.
	MaxRepoBytes int64
	// MaxFileBytes skips files larger than this. Default
	// DefaultMaxFileBytes.
	MaxFileBytes int64
	// Timeout bounds one crawl, clone included, on top of the caller's
	// context. Default DefaultTimeout.
	Timeout time.Duration
	// TempDir is where clones are made; "" means the OS temp dir.
	TempDir string
}

// Source crawls GitHub repositories. It is safe for concurrent use.
type Source struct {
	cfg Config
}

// New returns a Source, with Config's zero values replaced by defaults.
func New(cfg Config) *Source {
	if cfg.CloneURL == nil {
		cfg.CloneURL = func(owner, repo string) string {
			return "https://github.com/" + owner + "/" + repo + ".git"
		}
	}
	if cfg.MaxRepoBytes <= 0 {
		cfg.MaxRepoBytes = DefaultMaxRepoBytes
	}
	if cfg.MaxFileBytes <= 0 {
		cfg.MaxFileBytes = DefaultMaxFileBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Source{cfg: cfg}
}

// Name returns "github".
func (s *Source) Name() string { return "github" }

// Match reports whether u is a GitHub repository: https://github.com/owner/repo,
// optionally with ".git" or /tree/<branch>. Issues, pulls, files, gists and
// user pages are not repositories.
func (s *Source) Match(u *url.URL) bool {
	_, ok := parseRepo(u)
	return ok
}

// Crawl clones the repository rawURL names and returns it as one document
// of kind "repository". author is who the document is attributed to; empty
// means the repository's owner.
func (s *Source) Crawl(ctx context.Context, rawURL, author string) ([]schemas.CrawledDocument, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, streams.Permanent(fmt.Errorf("github: parse URL: %w", err))
	}
	ref, ok := parseRepo(u)
	if !ok {
		return nil, streams.Permanent(fmt.Errorf("github: %s is not a repository URL", rawURL))
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()

	dir, err := os.MkdirTemp(s.cfg.TempDir, "twin-github-")
	if err != nil {
		return nil, fmt.Errorf("github: %w", err)
	}
	defer os.RemoveAll(dir)

	repo, err := s.clone(ctx, dir, ref)
	if err != nil {
		return nil, err
	}
	head, err := repo.Head()
	if err != nil {
		return nil, fmt.Errorf("github: %s: head: %w", ref, err)
	}
	commit, err := repo.CommitObject(head.Hash())
	if err != nil {
		return nil, fmt.Errorf("github: %s: commit %s: %w", ref, head.Hash(), err)
	}
	c, err := s.collect(ctx, repo, commit)
	if err != nil {
		return nil, fmt.Errorf("github: %s: %w", ref, err)
	}
	if len(c.files) == 0 {
		return nil, streams.Permanent(fmt.Errorf("github: %s: nothing to index: no text file passed the filters (%s)",
			ref, c.skippedSummary()))
	}

	if author == "" {
		author = ref.owner
	}
	content := render(c.files)
	sum := sha256.Sum256([]byte(content))
	meta := map[string]string{
		"owner":      ref.owner,
		"repo":       ref.name,
		"commit":     commit.Hash.String(),
		"branch":     head.Name().Short(),
		"file_count": strconv.Itoa(len(c.files)),
		"kept_bytes": strconv.FormatInt(c.keptBytes, 10),
	}
	for reason, n := range c.skipped {
		meta["skipped_"+reason] = strconv.Itoa(n)
	}
	if c.truncated {
		meta["truncated"] = "true"
	}
	return []schemas.CrawledDocument{{
		Kind:        schemas.KindRepository,
		URL:         ref.URL(),
		Platform:    "github",
		Author:      author,
		Title:       ref.owner + "/" + ref.name,
		Content:     content,
		Description: description(c.files),
		PublishedAt: commit.Committer.When.UTC(),
		CrawledAt:   time.Now().UTC(),
		ContentHash: hex.EncodeToString(sum[:]),
		Files:       c.files,
		Metadata:    meta,
	}}, nil
}

// clone makes a bare, shallow, single-branch clone without tags into dir.
func (s *Source) clone(ctx context.Context, dir string, ref repoRef) (*git.Repository, error) {
	opts := &git.CloneOptions{
		URL:          s.cfg.CloneURL(ref.owner, ref.name),
		Depth:        1,
		SingleBranch: true,
		Tags:         git.NoTags,
	}
	if ref.branch != "" {
		opts.ReferenceName = plumbing.NewBranchReferenceName(ref.branch)
	}
	repo, err := git.PlainCloneContext(ctx, dir, true, opts)
	if err == nil {
		return repo, nil
	}
	err = fmt.Errorf("github: clone %s: %w", ref, err)
	if ctx.Err() != nil {
		// Whatever go-git reports, the cause is our deadline or the
		// caller's cancellation: worth another try, not a verdict.
		return nil, fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	switch {
	case errors.Is(err, transport.ErrRepositoryNotFound),
		// GitHub answers 401 for a repository that does not exist, as
		// for a private one: neither will change by retrying.
		errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrEmptyRemoteRepository),
		errors.Is(err, plumbing.ErrReferenceNotFound),
		errors.Is(err, git.NoMatchingRefSpecError{}):
		return nil, streams.Permanent(err)
	}
	return nil, err
}

// collected is what collect kept of a commit's files, and why it left out
// the others.
type collected struct {
	files     []schemas.RepositoryFile // sorted by path
	keptBytes int64
	skipped   map[string]int // files per skip reason
	truncated bool           // the repository cap was reached
}

func (c *collected) skippedSummary() string {
	if len(c.skipped) == 0 {
		return "the repository has no files"
	}
	reasons := make([]string, 0, len(c.skipped))
	for reason, n := range c.skipped {
		reasons = append(reasons, fmt.Sprintf("%s: %d", reason, n))
	}
	slices.Sort(reasons)
	return "skipped " + strings.Join(reasons, ", ")
}

// entry is a file of the commit's tree, before its blob is read.
type entry struct {
	path string
	mode filemode.FileMode
	hash plumbing.Hash
}

// collect reads the files of commit that pass the filters, in path order,
// until the repository cap. Walking tree entries first (rather than
// Tree.Files) means the blobs of skipped paths are never loaded.
func (s *Source) collect(ctx context.Context, repo *git.Repository, commit *object.Commit) (*collected, error) {
	tree, err := commit.Tree()
	if err != nil {
		return nil, fmt.Errorf("tree: %w", err)
	}
	var entries []entry
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	for {
		name, e, err := walker.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("walk tree: %w", err)
		}
		// Directories are walked into; submodules are other repositories.
		if e.Mode == filemode.Dir || e.Mode == filemode.Submodule {
			continue
		}
		entries = append(entries, entry{path: name, mode: e.Mode, hash: e.Hash})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.path, b.path) })

	c := &collected{skipped: map[string]int{}}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if c.truncated {
			c.skipped[skipRepoCap]++
			continue
		}
		reason, err := s.keep(repo, e, c)
		if err != nil {
			return nil, err
		}
		if reason != "" {
			c.skipped[reason]++
		}
	}
	return c, nil
}

// keep adds e to c if it passes the filters and fits under the caps, or
// returns why it did not.
func (s *Source) keep(repo *git.Repository, e entry, c *collected) (reason string, err error) {
	if e.mode == filemode.Symlink {
		return skipSymlink, nil // its content is only the target's path
	}
	if reason := skipByPath(e.path); reason != "" {
		return reason, nil
	}
	blob, err := repo.BlobObject(e.hash)
	if err != nil {
		return "", fmt.Errorf("%s: %w", e.path, err)
	}
	if blob.Size > s.cfg.MaxFileBytes || (isJSON(e.path) && blob.Size > maxJSONBytes) {
		return skipTooLarge, nil
	}
	data, err := readBlob(blob)
	if err != nil {
		return "", fmt.Errorf("%s: %w", e.path, err)
	}
	if reason := skipByContent(e.path, data); reason != "" {
		return reason, nil
	}
	// Checked last, so that a file skipped anyway does not end the crawl.
	if c.keptBytes+blob.Size > s.cfg.MaxRepoBytes {
		c.truncated = true
		return skipRepoCap, nil
	}
	c.files = append(c.files, schemas.RepositoryFile{Path: e.path, Content: string(data), Size: blob.Size})
	c.keptBytes += blob.Size
	return "", nil
}

func readBlob(blob *object.Blob) ([]byte, error) {
	r, err := blob.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// The size comes from the object header; the limit keeps a corrupt
	// header from making us read past the cap.
	return io.ReadAll(io.LimitReader(r, blob.Size))
}

// render concatenates files as markdown, one section per file, so that
// text chunkers downstream can treat a repository like any document.
func render(files []schemas.RepositoryFile) string {
	var b strings.Builder
	for i, f := range files {
		if i > 0 {
			b.WriteByte('\n')
		}
		fence := fenceFor(f.Content)
		b.WriteString("## " + f.Path + "\n\n" + fence + language(f.Path) + "\n")
		b.WriteString(f.Content)
		if !strings.HasSuffix(f.Content, "\n") {
			b.WriteByte('\n')
		}
		b.WriteString(fence + "\n")
	}
	return b.String()
}

// fenceFor returns a code fence longer than any run of backticks in
// content, so a markdown file holding fences of its own cannot close ours.
func fenceFor(content string) string {
	longest, run := 0, 0
	for i := 0; i < len(content); i++ {
		if content[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// repoRef names a repository, and the branch to crawl ("" for the default).
type repoRef struct {
	owner, name, branch string
}

func (r repoRef) String() string {
	if r.branch != "" {
		return r.owner + "/" + r.name + "@" + r.branch
	}
	return r.owner + "/" + r.name
}

// URL is the canonical address of the repository. A branch other than the
// default is a different document, so it keeps its /tree/<branch> suffix.
func (r repoRef) URL() string {
	u := "https://github.com/" + r.owner + "/" + r.name
	if r.branch != "" {
		u += "/tree/" + r.branch
	}
	return u
}

var (
	// GitHub user and organization names: letters, digits and single
	// inner hyphens, at most 39 characters. Older accounts may break the
	// hyphen rules, so only the characters and the length are checked.
	ownerPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}$`)
	repoPattern  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
)

// reservedOwners are top-level paths of github.com that look like
// /owner/repo but are GitHub's own pages.
var reservedOwners = map[string]bool{
	"about": true, "account": true, "apps": true, "blog": true, "codespaces": true,
	"collections": true, "contact": true, "copilot": true, "customer-stories": true,
	"dashboard": true, "enterprise": true, "events": true, "explore": true,
	"features": true, "login": true, "logout": true, "marketplace": true,
	"new": true, "notifications": true, "organizations": true, "orgs": true,
	"pricing": true, "pulls": true, "issues": true, "readme": true, "search": true,
	"security": true, "settings": true, "signup": true, "site": true,
	"sponsors": true, "stars": true, "team": true, "topics": true,
	"trending": true, "users": true, "watching": true,
}

// parseRepo reads a repository reference from a github.com URL: /owner/repo,
// /owner/repo.git, or /owner/repo/tree/<branch> (the branch may hold
// slashes: everything after /tree/ is taken as the branch name).
func parseRepo(u *url.URL) (repoRef, bool) {
	if u == nil || (u.Scheme != "https" && u.Scheme != "http") || u.Port() != "" {
		return repoRef{}, false
	}
	if host := strings.ToLower(u.Hostname()); host != "github.com" && host != "www.github.com" {
		return repoRef{}, false
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segs) < 2 {
		return repoRef{}, false
	}
	ref := repoRef{owner: segs[0], name: strings.TrimSuffix(segs[1], ".git")}
	if !ownerPattern.MatchString(ref.owner) || reservedOwners[strings.ToLower(ref.owner)] ||
		!repoPattern.MatchString(ref.name) || ref.name == "." || ref.name == ".." {
		return repoRef{}, false
	}
	switch {
	case len(segs) == 2:
	case len(segs) >= 4 && segs[2] == "tree":
		ref.branch = strings.Join(segs[3:], "/")
		if plumbing.NewBranchReferenceName(ref.branch).Validate() != nil {
			return repoRef{}, false
		}
	default:
		return repoRef{}, false
	}
	return ref, true
}
