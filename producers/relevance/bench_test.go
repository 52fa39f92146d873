package relevance

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

// BenchmarkImport1000Judgments reads 1,000 qrels lines and publishes the
// judgments to an embedded JetStream (file store), as twin feedback import
// does. Each iteration's judgments are new (another query text), so the
// stream stores them all rather than dropping duplicates.
func BenchmarkImport1000Judgments(b *testing.B) {
	js := streamstest.Start(b)
	pub := streams.NewPublisher(js)
	var qrels strings.Builder
	qrels.WriteString("query-id\tcorpus-id\tscore\n")
	for i := range 1000 {
		fmt.Fprintf(&qrels, "%d\t%d\t%d\n", i%200, 10000+i, i%2)
	}
	b.ReportAllocs()
	for n := 0; b.Loop(); n++ {
		queries := make(map[string]string, 200)
		for q := range 200 {
			queries[fmt.Sprint(q)] = fmt.Sprintf("run %d: what does claim %d say about cells?", n, q)
		}
		im := NewImporter(pub)
		bad, err := ReadQrels(strings.NewReader(qrels.String()), "qrels", queries, time.Now(), func(j schemas.Judgment) error {
			return im.Add(b.Context(), j)
		})
		if err == nil {
			err = im.Flush(b.Context())
		}
		if err != nil || len(bad) != 0 || im.Summary().Published != 1000 {
			b.Fatalf("import: %v, bad %v, %+v", err, bad, im.Summary())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000/1e3, "µs/judgment")
}
