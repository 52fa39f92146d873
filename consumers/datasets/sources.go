package datasets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twin-llm/twin/internal/models/llm"
	"github.com/twin-llm/twin/internal/store/warehouse"
)

// documents lists the live documents of author (everyone's when empty)
// with content, by id, so that the order of the examples does not depend
// on the order the documents were written in.
func (b *Builder) documents(ctx context.Context, author string) ([]warehouse.Document, error) {
	if b.cfg.Docs == nil {
		return nil, fmt.Errorf("%w: no document store", ErrUnavailable)
	}
	var docs []warehouse.Document
	var err error
	if author != "" {
		docs, err = b.cfg.Docs.ListByAuthor(ctx, warehouse.AuthorID(author), warehouse.ListOptions{})
	} else {
		docs, err = b.cfg.Docs.List(ctx, warehouse.ListOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	docs = slices.DeleteFunc(docs, func(d warehouse.Document) bool { return d.Deleted || strings.TrimSpace(d.Content) == "" })
	slices.SortFunc(docs, func(a, b warehouse.Document) int { return compareStrings(a.Collection+"/"+a.ID, b.Collection+"/"+b.ID) })
	return docs, nil
}

// candidate is an instruction (or prompt) with the author's text that
// answers it.
type candidate struct {
	instruction, text, method string
}

// deterministic are the candidates made without a model: each headed
// section (instruction from its heading), and the document's opening
// (instruction from its title).
func deterministic(d warehouse.Document, extracts []Extract) []candidate {
	var out []candidate
	if d.Title != "" && len(extracts) > 0 {
		out = append(out, candidate{titleInstruction(d.Title), extracts[0].Text, MethodTitleLead})
	}
	for _, s := range Sections(d.Content) {
		out = append(out, candidate{headingInstruction(s.Heading, d.Title), s.Text, MethodHeading})
	}
	return out
}

// fromLLM asks the LLM for n pairs of every extract; an extract whose
// replies do not parse is dropped and counted.
func (b *Builder) fromLLM(ctx context.Context, author string, extracts []Extract, n int, lin *lineage) ([][]Pair, error) {
	out := make([][]Pair, len(extracts))
	for i, e := range extracts {
		pairs, err := pairsFromLLM(ctx, b.cfg.LLM, author, e, n)
		switch {
		case errors.Is(err, errInvalidOutput):
			lin.dropped[DropLLMInvalid]++
			continue
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			b.cfg.Log.Warn().Err(err).Str("document", e.DocumentID).Int("extract", e.Index).Msg("the LLM failed on an extract")
			lin.dropped[DropLLMError]++
			continue
		}
		out[i] = pairs
	}
	return out, nil
}

// instructions makes the instruction pairs of the author's documents.
func (b *Builder) instructions(ctx context.Context, author string, lin *lineage) ([]Example, error) {
	docs, err := b.documents(ctx, author)
	if err != nil {
		return nil, err
	}
	if b.cfg.LLM != nil {
		lin.model, lin.prompt = b.cfg.LLM.Name(), PromptVersion
	}
	var out []Example
	for _, d := range docs {
		extracts, skipped := Extracts(d.ID, d.Title, d.Content, b.cfg.Filters.MinOutputChars)
		lin.dropped[DropSkippedBlock] += skipped
		if b.cfg.LLM == nil {
			for _, c := range deterministic(d, extracts) {
				out = append(out, Example{Instruction: c.instruction, Output: c.text, Method: c.method, DocumentID: d.ID, Group: "doc:" + d.ID})
			}
			continue
		}
		pairs, err := b.fromLLM(ctx, d.Author, extracts, b.cfg.PairsPerExtract, lin)
		if err != nil {
			return nil, err
		}
		for _, ps := range pairs {
			for _, p := range ps {
				out = append(out, Example{Instruction: p.Instruction, Output: p.Answer, Method: MethodLLM, DocumentID: d.ID, Group: "doc:" + d.ID})
			}
		}
	}
	return out, nil
}

// preferences makes the preference triples: from the documents (the
// author's text chosen over a model's answer) and from the ratings.
func (b *Builder) preferences(ctx context.Context, author string, lin *lineage) ([]Example, error) {
	docs, err := b.documents(ctx, author)
	if err != nil {
		return nil, err
	}
	rejecter, method := b.cfg.LLM, MethodGenerated
	if rejecter == nil {
		rejecter, method = llm.NewExtractive(), MethodExtractiveBaseline
	}
	lin.model, lin.prompt = rejecter.Name(), PromptVersion
	var out []Example
	for _, d := range docs {
		extracts, skipped := Extracts(d.ID, d.Title, d.Content, b.cfg.Filters.MinOutputChars)
		lin.dropped[DropSkippedBlock] += skipped
		var cands []candidate
		if b.cfg.LLM == nil {
			cands = deterministic(d, extracts)
		} else {
			// One instruction per extract: the extract is the chosen
			// text, and several prompts with one chosen text would be
			// near-duplicates of each other.
			pairs, err := b.fromLLM(ctx, d.Author, extracts, 1, lin)
			if err != nil {
				return nil, err
			}
			for i, ps := range pairs {
				if len(ps) > 0 {
					cands = append(cands, candidate{ps[0].Instruction, extracts[i].Text, MethodLLM})
				}
			}
		}
		for _, c := range cands {
			c.text = longestProse(c.text)
			if len(c.text) < b.cfg.Filters.MinOutputChars {
				lin.dropped[DropNoProse]++
				continue
			}
			rejected, err := rejectedAnswer(ctx, rejecter, c.instruction, c.text, d.ID)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				b.cfg.Log.Warn().Err(err).Str("document", d.ID).Msg("no rejected answer")
				lin.dropped[DropLLMError]++
				continue
			}
			out = append(out, Example{Prompt: c.instruction, Chosen: c.text, Rejected: rejected, Method: method,
				DocumentID: d.ID, Group: "doc:" + d.ID})
		}
	}
	rated, err := b.ratings(ctx, author, lin)
	if err != nil {
		return nil, err
	}
	return append(out, rated...), nil
}

// tracePage is how many traces one read of the ratings asks for.
const tracePage = 1000

// ratedAnswer is one rated chat answer, from its trace.
type ratedAnswer struct {
	traceID, query, answer string
	rating                 int
	feedbackID             string
	cited                  []string // document ids, best first
}

// ratings makes the triples of rated answers: a down-rated answer
// against an up-rated answer to the same question, or else against the
// passage of its first cited source that shares most words with the
// question.
func (b *Builder) ratings(ctx context.Context, author string, lin *lineage) ([]Example, error) {
	if b.cfg.Traces == nil {
		return nil, nil
	}
	byQuery := make(map[string][]ratedAnswer)
	opts := warehouse.TraceListOptions{Author: author, Limit: tracePage}
	for {
		traces, err := b.cfg.Traces.ListTraces(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list traces: %w", err)
		}
		for _, t := range traces {
			if r, ok := readRated(t); ok {
				q := normalizeQuery(r.query)
				byQuery[q] = append(byQuery[q], r)
			}
		}
		if len(traces) < tracePage {
			break
		}
		// Traces created in the same millisecond as the last of a page
		// and left beyond it are not read: a page holds a thousand, and
		// the loss is at most a few ratings of a burst.
		opts.Before = traces[len(traces)-1].CreatedAt
	}
	queries := make([]string, 0, len(byQuery))
	for q := range byQuery {
		queries = append(queries, q)
	}
	slices.Sort(queries)
	var out []Example
	for _, q := range queries {
		answers := byQuery[q]
		slices.SortFunc(answers, func(a, b ratedAnswer) int { return compareStrings(a.traceID, b.traceID) })
		var best *ratedAnswer
		for i := range answers {
			if answers[i].rating > 0 && answers[i].answer != "" {
				best = &answers[i]
				break
			}
		}
		for _, a := range answers {
			if a.rating >= 0 {
				continue
			}
			if a.answer == "" {
				lin.dropped[DropNoAnswer]++
				continue
			}
			e := Example{Prompt: a.query, Rejected: a.answer, Group: "q:" + q, FeedbackIDs: []string{a.feedbackID}}
			if best != nil {
				e.Chosen, e.Method = best.answer, MethodRatingPair
				e.FeedbackIDs = append(e.FeedbackIDs, best.feedbackID)
				if len(best.cited) > 0 {
					e.DocumentID = best.cited[0]
				}
			} else if docID, passage := b.sourcePassage(ctx, a); passage != "" {
				e.Chosen, e.Method, e.DocumentID = passage, MethodRatingSource, docID
			} else {
				lin.dropped[DropNoChosen]++
				continue
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// readRated reads a trace's question, answer, cited sources and latest
// rating; ok is false for a trace without a rating or that does not
// decode.
func readRated(t warehouse.TraceRecord) (ratedAnswer, bool) {
	if len(t.Feedback) == 0 {
		return ratedAnswer{}, false
	}
	var body struct {
		Query string `json:"query"`
		Steps []struct {
			Name   string          `json:"name"`
			Output json.RawMessage `json:"output"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(t.Trace, &body); err != nil || strings.TrimSpace(body.Query) == "" {
		return ratedAnswer{}, false
	}
	// The latest rating is the user's last word.
	fb := t.Feedback[len(t.Feedback)-1]
	r := ratedAnswer{traceID: t.TraceID, query: body.Query, rating: fb.Rating,
		feedbackID: fb.RequestID + "#" + warehouse.FeedbackKey(fb)}
	for _, s := range body.Steps {
		switch s.Name {
		case "generate":
			var answer string
			if json.Unmarshal(s.Output, &answer) == nil {
				r.answer = strings.TrimSpace(answer)
			}
		case "rerank":
			var hits []struct {
				DocumentID string `json:"document_id"`
			}
			if json.Unmarshal(s.Output, &hits) == nil {
				for _, h := range hits {
					if h.DocumentID != "" && !slices.Contains(r.cited, h.DocumentID) {
						r.cited = append(r.cited, h.DocumentID)
					}
				}
			}
		}
	}
	return r, true
}

// sourcePassage is the prose run (of at least MinOutputChars) of a's
// first cited document that shares the most words with its question.
func (b *Builder) sourcePassage(ctx context.Context, a ratedAnswer) (docID, passage string) {
	if len(a.cited) == 0 || b.cfg.Docs == nil {
		return "", ""
	}
	docID = a.cited[0]
	for _, coll := range warehouse.Collections() {
		d, err := b.cfg.Docs.Get(ctx, coll, docID)
		if err != nil || d.Deleted {
			continue
		}
		terms := strings.Fields(normalizeQuery(a.query))
		bestScore := -1
		for _, prose := range proseRuns(d.Content) {
			if len(prose) < b.cfg.Filters.MinOutputChars {
				continue
			}
			text := strings.ToLower(prose)
			score := 0
			for _, t := range terms {
				if len(t) > 3 && strings.Contains(text, t) {
					score++
				}
			}
			if score > bestScore {
				bestScore, passage = score, prose
			}
		}
		return docID, passage
	}
	return "", ""
}

// normalizeQuery folds case and spaces, so that the same question asked
// twice is one group.
func normalizeQuery(q string) string {
	return strings.Join(strings.Fields(strings.ToLower(q)), " ")
}

// judgmentPage is how many judgments one read asks for.
const judgmentPage = 5000

// relevance makes the relevance set: every judgment, the latest of a query
// and document replacing earlier ones.
func (b *Builder) relevance(ctx context.Context, lin *lineage) ([]Example, error) {
	if b.cfg.Judgments == nil {
		return nil, fmt.Errorf("%w: no judgment store", ErrUnavailable)
	}
	var out []Example
	at := make(map[[2]string]int)
	opts := warehouse.JudgmentListOptions{Limit: judgmentPage}
	for {
		js, err := b.cfg.Judgments.ListJudgments(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list judgments: %w", err)
		}
		for _, j := range js {
			if lin.seqFirst == 0 {
				lin.seqFirst = j.Seq
			}
			lin.seqLast = j.Seq
			q := normalizeQuery(j.Query)
			e := Example{Query: j.Query, DocumentID: j.DocumentID, Grade: j.Grade, Method: MethodJudgment,
				Group: "q:" + q, JudgmentID: j.ID}
			k := [2]string{q, j.DocumentID}
			if i, ok := at[k]; ok {
				out[i] = e
				lin.dropped[DropSuperseded]++
				continue
			}
			at[k] = len(out)
			out = append(out, e)
		}
		if len(js) < judgmentPage {
			break
		}
		opts.After = js[len(js)-1].Seq
	}
	return out, nil
}
