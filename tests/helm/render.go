// render: renders a Helm chart the way `helm template` does, for tests on a
// machine without the helm binary: Go's text/template with the sprig
// function library (as Helm), plus Helm's own functions (include, tpl,
// toYaml, fromYaml, required) and objects (.Values, .Release, .Chart,
// .Files, .Template). Values files given after the chart are deep-merged
// over values.yaml in order.
//
// usage: render CHART_DIR RELEASE NAMESPACE [VALUES.yaml ...]
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type Files struct{ root string }

func (f Files) Get(name string) string {
	b, err := os.ReadFile(filepath.Join(f.root, name))
	if err != nil {
		return ""
	}
	return string(b)
}

func (f Files) Glob(pattern string) map[string]interface{} {
	matches, _ := filepath.Glob(filepath.Join(f.root, pattern))
	out := map[string]interface{}{}
	for _, m := range matches {
		rel, _ := filepath.Rel(f.root, m)
		out[rel] = true
	}
	return out
}

func merge(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if sv, ok := v.(map[string]interface{}); ok {
			if dv, ok := dst[k].(map[string]interface{}); ok {
				dst[k] = merge(dv, sv)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

func loadYaml(path string) map[string]interface{} {
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		fmt.Fprintln(os.Stderr, path+":", err)
		os.Exit(2)
	}
	return m
}

func toYaml(v interface{}) string {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: render CHART_DIR RELEASE NAMESPACE [VALUES.yaml ...]")
		os.Exit(2)
	}
	chartDir, release, namespace := os.Args[1], os.Args[2], os.Args[3]
	chart := loadYaml(filepath.Join(chartDir, "Chart.yaml"))
	values := loadYaml(filepath.Join(chartDir, "values.yaml"))
	for _, extra := range os.Args[4:] {
		values = merge(values, loadYaml(extra))
	}
	name := chart["name"].(string)
	root := template.New("chart")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["include"] = func(n string, data interface{}) (string, error) {
		var buf bytes.Buffer
		err := root.ExecuteTemplate(&buf, n, data)
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = t.Execute(&buf, data)
		return buf.String(), err
	}
	funcs["toYaml"] = toYaml
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		_ = yaml.Unmarshal([]byte(s), &m)
		return m
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil || v == "" {
			return nil, fmt.Errorf(msg)
		}
		return v, nil
	}
	root.Funcs(funcs)
	paths, _ := filepath.Glob(filepath.Join(chartDir, "templates", "*"))
	sort.Strings(paths)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		tname := name + "/templates/" + filepath.Base(p)
		if _, err := root.New(tname).Parse(string(b)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	for _, p := range paths {
		base := filepath.Base(p)
		if strings.HasPrefix(base, "_") {
			continue
		}
		tname := name + "/templates/" + base
		data := map[string]interface{}{
			"Values":  values,
			"Release": map[string]interface{}{"Name": release, "Namespace": namespace, "Service": "Helm"},
			"Chart": map[string]interface{}{"Name": name, "Version": chart["version"], "AppVersion": chart["appVersion"]},
			"Files":    Files{root: chartDir},
			"Template": map[string]interface{}{"Name": tname, "BasePath": name + "/templates"},
			"Capabilities": map[string]interface{}{},
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, tname, data); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		out := strings.TrimSpace(buf.String())
		if out == "" {
			continue
		}
		fmt.Printf("---\n# Source: %s\n%s\n", tname, out)
	}
}
