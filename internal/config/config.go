// Package config reads the settings file of `weaveproxy serve`
// (weaveproxy.yaml). It knows no setting by name: every key is the name of
// a flag of the command's flag.FlagSet, and its value goes through that
// flag's own Set, so a flag added to the command is a config key at once,
// with the same parsing and the same errors.
//
// Precedence: a flag given on the command line wins over the file, the
// file over the flag's default.
package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/weaveproxy/weaveproxy/internal/yamlpos"
)

// Problem is one thing wrong with a settings file, at a line and column.
type Problem = yamlpos.Problem

// Error lists every problem of a file, so that all are fixed in one go.
type Error = yamlpos.Error

// Sources says where each flag that is not at its default got its value:
// "flag" (the command line) or "file".
type Sources map[string]string

// Parse parses args with fs, then reads the settings file named by the
// flag "config" (when fs has one and it is not empty) and sets, through
// fs.Set, every flag the file names that the command line did not set.
// Unknown keys, values of the wrong shape and values a flag refuses are
// all reported with their positions.
func Parse(fs *flag.FlagSet, args []string) (Sources, error) {
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	src := Sources{}
	fs.Visit(func(f *flag.Flag) { src[f.Name] = "flag" })
	cf := fs.Lookup("config")
	if cf == nil || cf.Value.String() == "" {
		return src, nil
	}
	path := cf.Value.String()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	applied, err := ApplyBytes(fs, b, path)
	if err != nil {
		return nil, err
	}
	for _, name := range applied {
		src[name] = "file"
	}
	return src, nil
}

// ApplyBytes sets the flags a settings file names (src, called name in
// errors) that were not set on the command line, and returns their names.
// Call it after fs.Parse.
func ApplyBytes(fs *flag.FlagSet, src []byte, name string) ([]string, error) {
	values, err := Read(fs, src, name)
	if err != nil {
		return nil, err
	}
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	e := &Error{File: name}
	var applied []string
	for _, v := range values {
		if onCommandLine[v.Name] {
			continue
		}
		if err := fs.Set(v.Name, v.Value); err != nil {
			e.Problems = append(e.Problems, Problem{Line: v.Line, Column: v.Column, Msg: fmt.Sprintf("%s: %v", v.Name, err)})
			continue
		}
		applied = append(applied, v.Name)
	}
	if len(e.Problems) > 0 {
		return nil, e
	}
	return applied, nil
}

// Value is one setting of a file: a flag name and the text its Set gets.
type Value struct {
	Name, Value  string
	Line, Column int
}

// Read parses a settings file against fs without setting anything: the
// document is a mapping from flag names to scalars (or lists of scalars,
// joined with commas, for flags that take comma-separated lists).
func Read(fs *flag.FlagSet, src []byte, name string) ([]Value, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, &Error{File: name, Problems: []Problem{yamlProblem(err)}}
	}
	if len(doc.Content) == 0 {
		return nil, nil // an empty file (or only comments) sets nothing
	}
	root := doc.Content[0]
	e := &Error{File: name}
	add := e.Add
	if root.Kind != yaml.MappingNode {
		add(root, "want a mapping of setting: value, got a %s", yamlpos.KindName(root))
		return nil, e
	}
	var values []Value
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode:
			add(k, "a key must be a setting's name, got a %s", yamlpos.KindName(k))
			continue
		case k.Value == "config":
			add(k, "config: a settings file cannot name another one")
			continue
		case fs.Lookup(k.Value) == nil:
			add(k, "unknown setting %q (the keys are the flags of `weaveproxy serve -h`, without dashes)", k.Value)
			continue
		case seen[k.Value] > 0:
			add(k, "%s: set twice (first on line %d)", k.Value, seen[k.Value])
			continue
		}
		seen[k.Value] = k.Line
		text, ok := scalarText(v)
		if !ok {
			add(v, "%s: want a value or a list of values, got a %s", k.Value, yamlpos.KindName(v))
			continue
		}
		values = append(values, Value{Name: k.Value, Value: text, Line: v.Line, Column: v.Column})
	}
	if len(e.Problems) > 0 {
		return nil, e
	}
	return values, nil
}

// scalarText is the flag text of a value node: a scalar as written (null
// is the empty string), a list of scalars joined with commas.
func scalarText(n *yaml.Node) (string, bool) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "", true
		}
		return n.Value, true
	case yaml.SequenceNode:
		parts := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return "", false
			}
			parts = append(parts, c.Value)
		}
		return strings.Join(parts, ","), true
	case yaml.AliasNode:
		return scalarText(n.Alias)
	}
	return "", false
}

// yamlProblem turns a yaml.v3 syntax error ("yaml: line 3: ...") into a
// Problem; yaml.v3 gives no column for syntax errors.
func yamlProblem(err error) Problem {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	p := Problem{Line: 1, Column: 1, Msg: msg}
	var line int
	if _, scanErr := fmt.Sscanf(msg, "yaml: line %d:", &line); scanErr == nil {
		p.Line = line
		p.Msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		p.Msg = strings.TrimSpace(p.Msg[strings.Index(p.Msg, ":")+1:])
	}
	return p
}
