// Package deploy holds twin's deployment manifests — docker-compose.yml, the
// Kubernetes base and overlays with their KEDA scalers, the Grafana
// dashboards, the Prometheus scrape config and alert rules — and reads them
// with the parsers of the tools that run them (Prometheus' rule and PromQL
// parsers, kustomize), so that tests check the manifests against the code:
// every consumer of the topology has a workload and a scaler, every metric a
// dashboard or a rule queries is one twin exports.
//
// Nothing in the twin binary imports this package.
package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// Where the manifests are, relative to the deploy directory.
const (
	ComposeFile   = "docker-compose.yml"
	DashboardsDir = "grafana/dashboards"
	RulesDir      = "prometheus/rules"
	KustomizeDir  = "k8s"
)

// Query is one PromQL expression of a manifest and where it is.
type Query struct {
	Source string // file and panel, rule or variable
	Name   string // a rule's alert or record name; empty for dashboards
	Expr   string
}

// grafanaVars are Grafana's built-in variables that may stand where PromQL
// wants a duration; every other $name or ${name} is a template variable whose
// value is a label value or a regular expression, inside a quoted matcher.
var (
	grafanaDurations = strings.NewReplacer("$__rate_interval", "5m", "${__rate_interval}", "5m",
		"$__interval", "1m", "${__interval}", "1m", "$__range", "1h", "${__range}", "1h")
	grafanaVar = regexp.MustCompile(`\$\{?[A-Za-z_][A-Za-z0-9_]*(:[a-z]+)?\}?`)
	// label_values(metric, label) and query_result(expr) are Grafana's
	// variable queries, not PromQL: their PromQL part is inside.
	labelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$`)
	queryResult = regexp.MustCompile(`^\s*query_result\((.*)\)\s*$`)
)

// PromQL is the PromQL of a dashboard query: Grafana's variables replaced by
// values of their kind, its variable-query functions unwrapped.
func PromQL(expr string) string {
	if m := labelValues.FindStringSubmatch(expr); m != nil {
		expr = m[1]
	} else if m := queryResult.FindStringSubmatch(expr); m != nil {
		expr = m[1]
	}
	expr = grafanaDurations.Replace(expr)
	return grafanaVar.ReplaceAllString(expr, "x")
}

// newParser is the PromQL parser of a Prometheus server with default flags.
func newParser() parser.Parser { return parser.NewParser(parser.Options{}) }

// MetricNames parses expr with Prometheus' PromQL parser and returns the
// metric names it selects, sorted and without repeats. A selector without a
// metric name is an error: it would match series of any name.
func MetricNames(expr string) ([]string, error) {
	node, err := newParser().ParseExpr(expr)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", expr, err)
	}
	var names []string
	var errs []error
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel && name == "" {
				name = m.Value
			}
		}
		if name == "" {
			errs = append(errs, fmt.Errorf("%q selects no metric name: %s", expr, vs))
			return nil
		}
		names = append(names, name)
		return nil
	})
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// dashboard is the part of a Grafana dashboard model that holds queries.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

// Dashboard is a dashboard's identity and its queries.
type Dashboard struct {
	File, UID, Title string
	Queries          []Query
}

// Dashboards reads every dashboard of fsys (the deploy directory).
func Dashboards(fsys fs.FS) ([]Dashboard, error) {
	files, err := fs.Glob(fsys, DashboardsDir+"/*.json")
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no dashboards in %s", DashboardsDir)
	}
	var out []Dashboard
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		var d dashboard
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, Dashboard{File: f, UID: d.UID, Title: d.Title, Queries: d.queries(f)})
	}
	return out, nil
}

func (d dashboard) queries(file string) []Query {
	var out []Query
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, t := range p.Targets {
				if strings.TrimSpace(t.Expr) != "" {
					out = append(out, Query{Source: fmt.Sprintf("%s: panel %q", file, p.Title), Expr: t.Expr})
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		// The query is a string in old dashboards, an object in new ones.
		var q struct {
			Query string `json:"query"`
		}
		var s string
		switch {
		case json.Unmarshal(v.Query, &s) == nil:
		case json.Unmarshal(v.Query, &q) == nil:
			s = q.Query
		}
		if s != "" {
			out = append(out, Query{Source: fmt.Sprintf("%s: variable %q", file, v.Name), Expr: s})
		}
	}
	return out
}

// Rules reads every rule file of fsys (the deploy directory) with
// Prometheus' own rule loader, which also parses each expression and
// template, and returns their expressions. Any error of any file fails it.
func Rules(fsys fs.FS) ([]Query, error) {
	files, err := fs.Glob(fsys, RulesDir+"/*.yml")
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no rule files in %s", RulesDir)
	}
	var out []Query
	var errs []error
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		groups, perrs := rulefmt.Parse(data, false, model.UTF8Validation, newParser(), slog.New(slog.DiscardHandler))
		for _, e := range perrs {
			errs = append(errs, fmt.Errorf("%s: %w", f, e))
		}
		if groups == nil {
			continue
		}
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				name := r.Alert
				if name == "" {
					name = r.Record
				}
				out = append(out, Query{Source: fmt.Sprintf("%s: group %s, rule %s", path.Base(f), g.Name, name), Name: name, Expr: r.Expr})
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
