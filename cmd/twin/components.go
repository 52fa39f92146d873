package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/datalock"
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
	// once, when set, says why the component may run in only one process
	// per data dir with the settings f ("" when it may run in many):
	// twin up and twin run then hold <data>/<name>.lock while it runs.
	once func(f serveFlags) string
}

// components is the one place where every component is registered, in the
// order they start.
func components() []component {
	return []component{
		{name: "warehouse", help: "writes crawled documents into the warehouse", run: runWarehouse, once: onceOnSQLite},
		{name: "cdc", help: "publishes every warehouse change to twin.cdc (change streams or the revision tail)", check: checkCDC, run: runCDC, once: onceOnSQLite},
		{name: "featurizer", help: "cleans and chunks changed documents into embed jobs", run: runFeaturizer},
		{name: "embedder", help: "embeds chunks into the vector store", check: checkEmbedder, run: runEmbedder, once: onceOnEmbeddedVectors},
		{name: "rag", help: "answers the chat questions of twin.chat.requests (retrieve, rerank, generate)", check: checkRag, run: runRag},
		{name: "monitor", help: "stores prompt traces, joins ratings to them, stores relevance judgments; per-step chat metrics", run: runMonitor},
		{name: "policy", help: "retrain policy: publishes twin.training.triggers when new documents, negative ratings, new judgments or embedding drift cross their thresholds", check: checkPolicy, run: runPolicy},
		{name: "trainer", help: "runs a training job per trigger of twin.training.triggers (the reranker in-process; the LLM with --trainer), registers and gates the models", check: checkTrainer, run: runTrainer},
		{name: "crawler", help: "crawls the URLs of twin.crawl.requests", run: runCrawler},
		{name: "gateway", help: "HTTP API (/v1/status, /v1/crawl, /v1/docs, /v1/search, /v1/reindex) and the lag metrics of every consumer", check: checkGateway, run: runGateway},
	}
}

// onceOnSQLite: the SQLite warehouse has one writer component and one
// revision tail; MongoDB takes any number.
func onceOnSQLite(f serveFlags) string {
	if f.mongo != "" {
		return ""
	}
	return "on the SQLite warehouse (with --mongo it may run in many)"
}

// onceOnEmbeddedVectors: the embedded vector store lives in one process.
func onceOnEmbeddedVectors(f serveFlags) string {
	if f.vectors.qdrant != "" {
		return ""
	}
	return "on the embedded vector store (with --qdrant it may run in many)"
}

// lockOnce takes the lock of every component of comps that runs once per
// data dir with f; on an error it releases what it took.
func lockOnce(dir string, comps []component, f serveFlags) (release func(), err error) {
	var held []*datalock.Lock
	release = func() {
		for _, l := range held {
			_ = l.Release()
		}
	}
	for _, c := range comps {
		if c.once == nil {
			continue
		}
		why := c.once(f)
		if why == "" {
			continue
		}
		l, err := datalock.AcquireFile(dir, c.name+".lock")
		if err != nil {
			release()
			return nil, fmt.Errorf("component %s runs once per data dir %s: %w", c.name, why, err)
		}
		held = append(held, l)
	}
	return release, nil
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
