package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/rs/zerolog"
)

// component is one part of twin that `twin up` runs and `twin run NAME`
// runs alone. run calls ready once it serves (its routes registered, its
// consumers about to run), then blocks until ctx ends and returns once it
// has stopped cleanly. The process is ready when every component is.
//
// check, when set, refuses the settings the component cannot work with;
// twin up and twin run check every component they run before anything
// starts, so that a typo fails at once instead of when the component
// starts. Each component's file holds its flags, its check and its run.
type component struct {
	name  string
	help  string
	check func(f serveFlags) error
	run   func(ctx context.Context, s *system, log zerolog.Logger, ready func()) error
}

// components is the one place where every component is registered, in the
// order they start.
func components() []component {
	return []component{
		{name: "warehouse", help: "writes crawled documents into the warehouse", run: runWarehouse},
		{name: "cdc", help: "publishes every warehouse change to twin.cdc (change streams or the revision tail)", check: checkCDC, run: runCDC},
		{name: "featurizer", help: "cleans and chunks changed documents into embed jobs", run: runFeaturizer},
		{name: "embedder", help: "embeds chunks into the vector store", check: checkEmbedder, run: runEmbedder},
		{name: "rag", help: "answers the chat questions of twin.chat.requests (retrieve, rerank, generate)", check: checkRag, run: runRag},
		{name: "monitor", help: "stores prompt traces, joins ratings to them, stores relevance judgments; per-step chat metrics", run: runMonitor},
		{name: "policy", help: "retrain policy: publishes twin.training.triggers when new documents, negative ratings, new judgments or embedding drift cross their thresholds", check: checkPolicy, run: runPolicy},
		{name: "trainer", help: "runs a training job per trigger of twin.training.triggers (the reranker in-process; the LLM with --trainer), registers and gates the models", check: checkTrainer, run: runTrainer},
		{name: "crawler", help: "crawls the URLs of twin.crawl.requests", run: runCrawler},
		{name: "gateway", help: "HTTP API (/v1/status, /v1/crawl, /v1/docs, /v1/search, /v1/reindex) and the lag metrics of every consumer", check: checkGateway, run: runGateway},
	}
}

// pickComponents returns the named components, or all of them for none.
func pickComponents(names []string) ([]component, error) {
	all := components()
	if len(names) == 0 {
		return all, nil
	}
	var out []component
	for _, n := range names {
		found := false
		for _, c := range all {
			if c.name == n {
				out = append(out, c)
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("no component %q; the components are: %s", n, componentNames(all))
		}
	}
	return out, nil
}

// checkComponents runs the checks of comps against f.
func checkComponents(comps []component, f serveFlags) error {
	for _, c := range comps {
		if c.check == nil {
			continue
		}
		if err := c.check(f); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}
	return nil
}

func componentNames(cs []component) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}
