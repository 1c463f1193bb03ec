package rules

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Issue is one thing wrong with a `diff:` block, at the line and column
// of the YAML node at fault.
type Issue struct {
	Line, Column int
	Msg          string
}

// Check validates a `diff:` block as routes.yaml holds it, reporting every
// problem at its own position, so the proxy can refuse a file at load
// rather than compare under the defaults at the first shadowed request.
// A nil or empty node is valid. skip names keys another layer reads
// (shadow's learn_noise); Check leaves them alone.
func Check(n *yaml.Node, skip ...string) []Issue {
	if n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return []Issue{{n.Line, n.Column, "diff must be a mapping of rule names to values"}}
	}
	var out []Issue
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case slices.Contains(skip, k.Value):
			continue
		case !slices.Contains(ruleKeys, k.Value):
			out = append(out, Issue{k.Line, k.Column, fmt.Sprintf("diff: unknown key %q (known: %s)",
				k.Value, strings.Join(append(slices.Clone(ruleKeys), skip...), ", "))})
			continue
		}
		// Decode and apply this key alone, so an error lands on its value.
		var y yamlRules
		one := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{k, v}}
		if err := one.Decode(&y); err != nil {
			out = append(out, Issue{v.Line, v.Column, fmt.Sprintf("diff: %s: %s", k.Value, yamlMsg(err))})
			continue
		}
		if err := Default().apply(y); err != nil {
			out = append(out, Issue{v.Line, v.Column, fmt.Sprintf("diff: %s: %v", k.Value, err)})
		}
	}
	return out
}

// ruleKeys are the keys of a diff: block, from yamlRules' tags.
var ruleKeys = func() []string {
	t := reflect.TypeFor[yamlRules]()
	keys := make([]string, t.NumField())
	for i := range keys {
		keys[i], _, _ = strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
	}
	return keys
}()

// yamlMsg drops yaml.v3's "yaml: unmarshal errors: line N:" framing: the
// position is reported separately.
func yamlMsg(err error) string {
	s := err.Error()
	if _, rest, ok := strings.Cut(s, "unmarshal errors:\n"); ok {
		s = strings.TrimSpace(rest)
		if _, after, ok := strings.Cut(s, ": "); ok && strings.HasPrefix(s, "line ") {
			s = after
		}
	}
	return s
}
