// Package yamlpos is how weaveproxy's YAML files (routes.yaml,
// weaveproxy.yaml) report what is wrong with them: every problem at once,
// each at its line and column, as "file:line:column: message".
package yamlpos

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a file, at a line and column.
type Problem struct {
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Msg    string `json:"msg"`
}

// Error lists every problem found in a file, so that Ops fix them in one
// go rather than one attempt at a time.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s:%d:%d: %s", e.File, p.Line, p.Column, p.Msg)
	}
	return b.String()
}

// Add records a problem at node n.
func (e *Error) Add(n *yaml.Node, format string, args ...any) {
	e.Problems = append(e.Problems, Problem{n.Line, n.Column, fmt.Sprintf(format, args...)})
}

// KindName names a node's kind for messages: "mapping", "list", "alias"
// or "value".
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
}
