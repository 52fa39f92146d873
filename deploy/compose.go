package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

// Compose loads docker-compose.yml of dir (the deploy directory) the way
// `docker compose` does: interpolated with env (the variables of .env),
// normalized and validated against the Compose schema. Nothing of the
// process's own environment leaks in.
func Compose(ctx context.Context, dir string, env map[string]string) (*types.Project, error) {
	var pairs []string
	for k, v := range env {
		pairs = append(pairs, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, ComposeFile)},
		cli.WithWorkingDirectory(dir), cli.WithEnv(pairs), cli.WithInterpolation(true),
		cli.WithNormalization(true), cli.WithConsistency(true), cli.WithResolvedPaths(true))
	if err != nil {
		return nil, fmt.Errorf("compose options: %w", err)
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", ComposeFile, err)
	}
	return p, nil
}

// ScrapeConfig is the part of prometheus/prometheus.yml that the checks of
// other packages read. This package's tests load the file with
// Prometheus' own config loader, which is not imported here: it brings the
// SDKs of every cloud's service discovery into whatever imports it.
type ScrapeConfig struct {
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName      string `yaml:"job_name"`
		MetricsPath  string `yaml:"metrics_path"`
		DNSSDConfigs []struct {
			Type  string   `yaml:"type"`
			Port  int      `yaml:"port"`
			Names []string `yaml:"names"`
		} `yaml:"dns_sd_configs"`
	} `yaml:"scrape_configs"`
}

// Prometheus reads prometheus/prometheus.yml of dir.
func Prometheus(dir string) (ScrapeConfig, error) {
	var c ScrapeConfig
	f, err := os.Open(filepath.Join(dir, "prometheus", "prometheus.yml"))
	if err != nil {
		return c, err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("prometheus.yml: %w", err)
	}
	return c, nil
}

// FilledEnv reads an env file example (KEY=VALUE lines, # comments) such as
// .env.example and returns its keys, each with a stand-in value: what the
// file holds once an operator filled it in.
func FilledEnv(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env, err := filledEnv(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return env, nil
}

func filledEnv(data []byte) (map[string]string, error) {
	env := map[string]string{}
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if k = strings.TrimSpace(k); !ok || k == "" {
			return nil, fmt.Errorf("%q is no KEY=VALUE", line)
		}
		env[k] = "value-of-" + k
	}
	return env, nil
}
