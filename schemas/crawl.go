package schemas

import "time"

// CrawlRequest asks the crawler to fetch one URL. The gateway (POST
// /v1/crawl), the CLI (twin crawl) or any NATS client publishes it on
// SubjectCrawlRequests; HeaderMsgID is the normalized URL, so the same URL
// requested twice within the stream's duplicate window is crawled once.
type CrawlRequest struct {
	URL string `json:"url"`
	// Author is the author the document is attributed to; empty means the
	// crawler decides (for example from the page's byline).
	Author string `json:"author,omitempty"`
	// Source says who published the request: "cli", "http", "nats", ...
	Source      string    `json:"source,omitempty"`
	RequestedAt time.Time `json:"requested_at,omitzero"`
}

// Schema returns "crawl_request/v1".
func (CrawlRequest) Schema() string { return "crawl_request/v1" }

// CrawledDocument is what the crawler extracted from one URL: an article, a
// post or a repository. The crawler publishes it on DocsCrawled(Kind); the
// warehouse writer stores it, keyed by its normalized URL.
type CrawledDocument struct {
	// ID is the crawler's stable id for the document, if it has one; the
	// warehouse keys documents by URL and assigns its own id otherwise.
	ID string `json:"id,omitempty"`
	// Kind is KindArticle, KindPost or KindRepository.
	Kind string `json:"kind"`
	URL  string `json:"url,omitempty"`
	// Platform is where the document was published: "medium", "substack",
	// "github", "web", "local", ...
	Platform    string `json:"platform,omitempty"`
	Author      string `json:"author,omitempty"`
	Title       string `json:"title,omitempty"`
	Content     string `json:"content,omitempty"` // the extracted text
	Description string `json:"description,omitempty"`
	Language    string `json:"language,omitempty"`
	SiteName    string `json:"site_name,omitempty"`

	PublishedAt time.Time `json:"published_at,omitzero"`
	CrawledAt   time.Time `json:"crawled_at,omitzero"`

	// ContentHash is a hash of Content (for a repository, of its files); the
	// warehouse compares it to skip rewriting unchanged documents.
	ContentHash string `json:"content_hash,omitempty"`

	// Files holds a repository's files; empty for other kinds.
	Files    []RepositoryFile  `json:"files,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Schema returns "crawled_document/v1".
func (CrawledDocument) Schema() string { return "crawled_document/v1" }

// RepositoryFile is one text file of a crawled repository.
type RepositoryFile struct {
	Path    string `json:"path"` // relative to the repository root, with '/'
	Content string `json:"content,omitempty"`
	Size    int64  `json:"size,omitempty"` // bytes in the repository, before any truncation
}
