package datasets

import (
	"encoding/json"
	"fmt"
)

// Kinds of dataset.
const (
	KindInstruct   = "instruct"   // instruction pairs, for SFT
	KindPreference = "preference" // preference triples, for DPO
	KindRelevance  = "relevance"  // relevance judgments, for the reranker
)

// Formats of the example lines.
const (
	FormatAlpaca    = "alpaca"    // {"instruction","output"}
	FormatChat      = "chat"      // {"messages":[{"role":"user",...},{"role":"assistant",...}]}
	FormatDPO       = "dpo"       // {"prompt","chosen","rejected"}
	FormatRelevance = "relevance" // {"query","document_id","grade"}
)

// Methods: how an example was made. Every example line carries one.
const (
	MethodHeading            = "heading"             // instruction from a heading, output the author's text under it
	MethodTitleLead          = "title_lead"          // instruction from the title, output the document's first extract
	MethodLLM                = "llm"                 // instruction and answer written by the LLM from an extract
	MethodGenerated          = "generated"           // preference: rejected is the LLM's answer without the author's text
	MethodExtractiveBaseline = "extractive_baseline" // preference: rejected is the embedded extractive answerer's reply
	MethodRatingPair         = "rating_pair"         // preference: a down-rated answer against an up-rated one to the same question
	MethodRatingSource       = "rating_source"       // preference: a down-rated answer against the cited source passage
	MethodJudgment           = "judgment"            // relevance: a stored judgment
)

// Example is one training example of any kind, with where it came from.
type Example struct {
	// Instruction and Output are an instruction pair.
	Instruction string
	Output      string
	// Prompt, Chosen and Rejected are a preference triple.
	Prompt   string
	Chosen   string
	Rejected string
	// Query, DocumentID and Grade are a relevance judgment.
	Query string
	Grade int

	Method string
	// DocumentID is the document the example was made from (or judged).
	DocumentID string
	// Group keeps examples together in the split: examples of one
	// document, or of one query, all go to train or all to test, so that
	// the test split measures what training never saw.
	Group string
	// FeedbackIDs and JudgmentID are the ratings and judgment behind it.
	FeedbackIDs []string
	JudgmentID  string
}

// line is the JSON of an example in format. The method travels with the
// example; trainers read the fields of their format and ignore others.
func (e Example) line(format string) ([]byte, error) {
	switch format {
	case FormatAlpaca:
		return json.Marshal(struct {
			Instruction string `json:"instruction"`
			Output      string `json:"output"`
			Method      string `json:"method"`
		}{e.Instruction, e.Output, e.Method})
	case FormatChat:
		type msg struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		}
		return json.Marshal(struct {
			Messages []msg  `json:"messages"`
			Method   string `json:"method"`
		}{[]msg{{"user", e.Instruction}, {"assistant", e.Output}}, e.Method})
	case FormatDPO:
		return json.Marshal(struct {
			Prompt   string `json:"prompt"`
			Chosen   string `json:"chosen"`
			Rejected string `json:"rejected"`
			Method   string `json:"method"`
		}{e.Prompt, e.Chosen, e.Rejected, e.Method})
	case FormatRelevance:
		return json.Marshal(struct {
			Query      string `json:"query"`
			DocumentID string `json:"document_id"`
			Grade      int    `json:"grade"`
			Method     string `json:"method"`
		}{e.Query, e.DocumentID, e.Grade, e.Method})
	}
	return nil, fmt.Errorf("%w: unknown format %q", ErrInvalid, format)
}
