package deploy

import (
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Resource is one Kubernetes object of a kustomize build.
type Resource struct {
	Kind, Name, Namespace string
	yaml                  []byte
}

// Decode decodes the whole object into v (YAML field names).
func (r Resource) Decode(v any) error {
	if err := yaml.Unmarshal(r.yaml, v); err != nil {
		return fmt.Errorf("%s %s: %w", r.Kind, r.Name, err)
	}
	return nil
}

// ProdSecrets is the secrets.env the prod overlay reads, made from the
// example committed beside it in dir (the deploy directory) as an operator
// fills it in, keyed by its path for Kustomize's extra files.
func ProdSecrets(dir string) (map[string][]byte, error) {
	const secrets = "k8s/overlays/prod/secrets.env"
	env, err := FilledEnv(filepath.Join(dir, secrets+".example"))
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for k, v := range env {
		b.WriteString(k + "=" + v + "\n")
	}
	return map[string][]byte{secrets: []byte(b.String())}, nil
}

// Kustomize builds the overlay (a directory under k8s/overlays) the way
// `kubectl apply -k` does, on an in-memory copy of fsys (the deploy
// directory) with extra files laid over it, such as the secrets an overlay
// reads from a file that is not in git.
func Kustomize(fsys fs.FS, overlay string, extra map[string][]byte) ([]Resource, error) {
	mem := filesys.MakeFsInMemory()
	err := fs.WalkDir(fsys, KustomizeDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return mem.WriteFile("/"+p, data)
	})
	if err != nil {
		return nil, fmt.Errorf("copy %s: %w", KustomizeDir, err)
	}
	for p, data := range extra {
		if err := mem.WriteFile("/"+p, data); err != nil {
			return nil, err
		}
	}
	dir := "/" + path.Join(KustomizeDir, "overlays", overlay)
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", overlay, err)
	}
	var out []Resource
	for _, r := range rm.Resources() {
		data, err := r.AsYAML()
		if err != nil {
			return nil, err
		}
		out = append(out, Resource{Kind: r.GetKind(), Name: r.GetName(), Namespace: r.GetNamespace(), yaml: data})
	}
	return out, nil
}

// Container is the part of a pod's container the checks read.
type Container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Args    []string `yaml:"args"`
	Command []string `yaml:"command"`
	Ports   []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	LivenessProbe  *Probe `yaml:"livenessProbe"`
	ReadinessProbe *Probe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	EnvFrom []struct {
		ConfigMapRef *struct {
			Name string `yaml:"name"`
		} `yaml:"configMapRef"`
		SecretRef *struct {
			Name string `yaml:"name"`
		} `yaml:"secretRef"`
	} `yaml:"envFrom"`
	Env []struct {
		Name      string `yaml:"name"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
			ConfigMapKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"configMapKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
}

// Probe is an HTTP probe.
type Probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

// Workload is a Deployment or a StatefulSet.
type Workload struct {
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Replicas    *int   `yaml:"replicas"`
		ServiceName string `yaml:"serviceName"`
		Selector    struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				Containers []Container `yaml:"containers"`
				Volumes    []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// ScaledObject is KEDA's.
type ScaledObject struct {
	Spec struct {
		ScaleTargetRef struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Name       string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
		MinReplicaCount *int `yaml:"minReplicaCount"`
		MaxReplicaCount *int `yaml:"maxReplicaCount"`
		Triggers        []struct {
			Type     string            `yaml:"type"`
			Metadata map[string]string `yaml:"metadata"`
		} `yaml:"triggers"`
	} `yaml:"spec"`
}

// PodDisruptionBudget is the part of a PDB the checks read.
type PodDisruptionBudget struct {
	Spec struct {
		MinAvailable   any `yaml:"minAvailable"`
		MaxUnavailable any `yaml:"maxUnavailable"`
		Selector       struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
	} `yaml:"spec"`
}

// Service is the part of a Service the checks read.
type Service struct {
	Spec struct {
		ClusterIP string            `yaml:"clusterIP"`
		Selector  map[string]string `yaml:"selector"`
	} `yaml:"spec"`
}
