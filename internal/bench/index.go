package bench

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twin-llm/twin/internal/store/vectors"
	"github.com/twin-llm/twin/internal/store/warehouse"
)

// IndexCheck is what CheckIndex found in the vector store: the points of
// the live documents, and the chunks lost, stored twice, or stale (of an
// older revision or version, of a deleted document, or of no document).
type IndexCheck struct {
	Points, Lost, Duplicated, Stale int
}

// CheckIndex compares every point of vs with the warehouse's documents,
// live by id and deleted: each live document must have all its chunks at
// its revision, once each, carrying the version marker of its text (the
// "<id>-v<n>" the runs' documents carry, when there is one), and nothing
// else may be left. problem hears each finding, in words.
func CheckIndex(ctx context.Context, vs vectors.Store, live map[string]warehouse.Document, deleted []string, problem func(format string, args ...any)) (IndexCheck, error) {
	var found IndexCheck
	// A filter by document finds every point: the query only has to be a
	// valid vector.
	query := make([]float32, vs.Dim())
	query[0] = 1
	for batch := range slices.Chunk(slices.Sorted(maps.Keys(live)), 200) {
		hits, err := vs.Search(ctx, vectors.Query{Dense: query, Filter: vectors.Filter{DocumentIDs: batch}, Limit: 200 * len(batch)})
		if err != nil {
			return found, fmt.Errorf("search the index: %w", err)
		}
		found.Points += len(hits)
		byDoc := map[string][]vectors.Hit{}
		for _, h := range hits {
			byDoc[h.Payload.DocumentID] = append(byDoc[h.Payload.DocumentID], h)
		}
		for _, id := range batch {
			d := live[id]
			lost, dup, stale := judgeChunks(d, byDoc[id])
			if lost+dup+stale > 0 {
				problem("%s at revision %d: %d chunks lost, %d duplicated, %d stale in the index: %s", id, d.Revision, lost, dup, stale, describeHits(byDoc[id]))
			}
			found.Lost, found.Duplicated, found.Stale = found.Lost+lost, found.Duplicated+dup, found.Stale+stale
		}
	}
	left := 0
	if len(deleted) > 0 {
		n, err := vs.Count(ctx, vectors.Filter{DocumentIDs: deleted})
		if err != nil {
			return found, fmt.Errorf("count the deleted documents' points: %w", err)
		}
		if left = n; left > 0 {
			found.Stale += left
			problem("%d chunks of the %d deleted documents are still in the index", left, len(deleted))
		}
	}
	total, err := vs.Count(ctx, vectors.Filter{})
	if err != nil {
		return found, fmt.Errorf("count the index: %w", err)
	}
	if orphans := total - found.Points - left; orphans > 0 {
		found.Stale += orphans
		problem("the index holds %d chunks of no document of the warehouse", orphans)
	}
	return found, nil
}

// judgeChunks counts what is wrong with the chunks of one live document:
// chunks missing (none at all counts one), stored twice, or of another
// revision or version.
func judgeChunks(d warehouse.Document, hits []vectors.Hit) (lost, duplicated, stale int) {
	marker := ""
	if i := strings.Index(d.Content, d.ID+"-v"); i >= 0 {
		marker = strings.Fields(d.Content[i:])[0]
	}
	seen := map[int]bool{}
	for _, h := range hits {
		rev, _ := h.Payload.Extra["revision"].(float64)
		switch {
		case int64(rev) != d.Revision:
			stale++
		case seen[h.Payload.ChunkIndex]:
			duplicated++
		case marker != "" && !strings.Contains(h.Payload.Text, marker):
			stale++
		default:
			seen[h.Payload.ChunkIndex] = true
		}
	}
	if len(seen) == 0 {
		return 1, duplicated, stale
	}
	for i := range len(seen) {
		if !seen[i] {
			lost++
		}
	}
	return lost, duplicated, stale
}

// describeHits lists a document's chunks as the index holds them, so that
// a finding shows what is there.
func describeHits(hits []vectors.Hit) string {
	var b strings.Builder
	for _, h := range hits {
		fmt.Fprintf(&b, "[chunk %d rev %v %.40q] ", h.Payload.ChunkIndex, h.Payload.Extra["revision"], h.Payload.Text)
	}
	return strings.TrimSpace(b.String())
}
