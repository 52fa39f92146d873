package rerank

import (
	"os"
	"testing"
)

// TestSciFactLexicalVariants measures the alternatives behind Lexical's
// constants (README.md has the table); it runs only with
// TWIN_RERANK_VARIANTS=1.
func TestSciFactLexicalVariants(t *testing.T) {
	if os.Getenv("TWIN_RERANK_VARIANTS") == "" {
		t.Skip("set TWIN_RERANK_VARIANTS=1 to measure the lexical variants on SciFact")
	}
	run := loadSciFact(t)
	hybrid := hybridRun(t, run)
	for _, v := range []struct {
		name string
		set  func(p *lexicalParams)
	}{
		{"default", func(p *lexicalParams) {}},
		{"rank prior 0 (lexical alone)", func(p *lexicalParams) { p.rankWeight = 0 }},
		{"rank prior 0.15", func(p *lexicalParams) { p.rankWeight = 0.15 }},
		{"rank prior 0.4", func(p *lexicalParams) { p.rankWeight = 0.4 }},
		{"rank scale 5", func(p *lexicalParams) { p.rankScale = 5 }},
		{"rank scale 20", func(p *lexicalParams) { p.rankScale = 20 }},
		{"BM25 part only", func(p *lexicalParams) { p.wCover, p.wProx = 0, 0 }},
		{"BM25 part only, rank prior 0", func(p *lexicalParams) { p.wCover, p.wProx, p.rankWeight = 0, 0, 0 }},
		{"no coverage", func(p *lexicalParams) { p.wCover = 0 }},
		{"coverage 0.2", func(p *lexicalParams) { p.wBM25, p.wCover = 0.4, 0.2 }},
		{"no proximity", func(p *lexicalParams) { p.wProx = 0 }},
		{"proximity 0.2", func(p *lexicalParams) { p.wBM25, p.wProx = 0.75, 0.2 }},
		{"proximity: window only", func(p *lexicalParams) { p.pairShare = 0 }},
		{"proximity: pairs only", func(p *lexicalParams) { p.pairShare = 1 }},
		{"window 8", func(p *lexicalParams) { p.window = 8 }},
		{"window 32", func(p *lexicalParams) { p.window = 32 }},
		{"pair gap 3", func(p *lexicalParams) { p.pairGap = 3 }},
		{"no vocabulary prior", func(p *lexicalParams) { p.vocabPrior = 0 }},
		{"no vocabulary prior, rank 0", func(p *lexicalParams) { p.vocabPrior, p.rankWeight = 0, 0 }},
		{"prior passages 10", func(p *lexicalParams) { p.priorDocs = 10 }},
		{"prior passages 200", func(p *lexicalParams) { p.priorDocs = 200 }},
		{"k1 0.9", func(p *lexicalParams) { p.k1 = 0.9 }},
		{"b 0.75", func(p *lexicalParams) { p.b = 0.75 }},
	} {
		p := defaultLexical()
		v.set(&p)
		l := newLexical(p)
		res := evaluateRerank(t, run, l)
		hyb := evaluateRerank(t, hybrid, l)
		t.Logf("%-30s BM25 top 50: %.4f → %.4f (halves %.4f → %.4f, %.4f → %.4f); hybrid top 50: %.4f → %.4f",
			v.name, res.before, res.after, res.halves[0][0], res.halves[0][1], res.halves[1][0], res.halves[1][1],
			hyb.before, hyb.after)
	}
}
