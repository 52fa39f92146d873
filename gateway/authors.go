package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twin-llm/twin/internal/store/warehouse"
)

// maxNamedAuthors bounds the names an unknown-author message lists.
const maxNamedAuthors = 10

// knownAuthor reports whether the warehouse knows an author by name (in
// any case and spacing, as AuthorID matches), and when it does not, the
// message that says so and names the authors it knows:
//
//	no author named "Simon"; the authors are Simon Willison, Grace Hopper
//
// An empty name, a gateway without a warehouse, and a warehouse that
// cannot be read count as known: the question then goes on and finds what
// it finds, as it did before this check.
func (g *Gateway) knownAuthor(ctx context.Context, name string) (string, bool) {
	if strings.TrimSpace(name) == "" || g.cfg.Store == nil {
		return "", true
	}
	_, err := g.cfg.Store.FindAuthor(ctx, name)
	if err == nil {
		return "", true
	}
	if !errors.Is(err, warehouse.ErrNotFound) {
		g.cfg.Log.Warn().Err(err).Str("author", name).Msg("check author")
		return "", true
	}
	authors, err := g.cfg.Store.Authors(ctx)
	if err != nil {
		g.cfg.Log.Warn().Err(err).Msg("list authors")
		return fmt.Sprintf("no author named %q", name), false
	}
	return unknownAuthorMessage(name, authors), false
}

// unknownAuthorMessage says that no author is named name and which are.
func unknownAuthorMessage(name string, authors []warehouse.Author) string {
	msg := fmt.Sprintf("no author named %q; ", name)
	if len(authors) == 0 {
		return msg + "the warehouse has no authors yet (import or crawl documents with an author)"
	}
	names := make([]string, 0, min(len(authors), maxNamedAuthors))
	for _, a := range authors[:min(len(authors), maxNamedAuthors)] {
		names = append(names, a.Name)
	}
	list := strings.Join(names, ", ")
	if more := len(authors) - len(names); more > 0 {
		list += fmt.Sprintf(" and %d more (GET /v1/authors lists them)", more)
	}
	if len(authors) == 1 {
		return msg + "the only author is " + list
	}
	return msg + "the authors are " + list
}
