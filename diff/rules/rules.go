// Package rules holds the declared comparison rules: which headers are never
// compared, which fields are timestamps, which lists are unordered, how
// numbers compare. Defaults follow the Weave API (see Default and
// Compile); each route of routes.yaml may adjust them in its free-form
// `diff:` block, every key optional:
//
//	diff:
//	  ignore_headers: [x-weave-alert]   # never compared, on top of date, server, ...
//	  compare_headers: [server]         # compared after all
//	  ignore: [body.payload]            # paths (and their subtrees) never compared
//	  timestamps: [body.*.when]         # more timestamp fields
//	  timestamp_tolerance: 5s           # or "any": relations only
//	  unordered: [body.success]         # lists compared as multisets
//	  ordered: [body]                   # lists compared in order (wins)
//	  positional: [body.pair]           # tuples: findings keep their index
//	  time_order_by_relation: false     # sort=newest|oldest lists as multisets
//	  exact_numbers: false              # 1.5 ≠ 1.50
//	  empty_list_is_object: false       # [] = {}
//	  content_type_params: false        # compare charset too
//	  relations: true                   # timestamp relations
//
// Paths start at status, header.<lower-case name> or body, and use the
// syntax of package path: body.success[3], body[*].modified, body.*.
package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/weaveproxy/weaveproxy/diff/path"
)

// AnyValue as a timestamp tolerance means: never compare timestamp values,
// only their relations. Replays need it: recorded timestamps come from the
// legacy server's clock at capture time.
const AnyValue time.Duration = -1

// DefaultIgnoredHeaders are transport headers: they say how an answer
// travelled, not what the server decided.
var defaultIgnoredHeaders = []string{
	"date", "server", "x-powered-by", "connection", "keep-alive", "host",
	"content-length", "transfer-encoding", "te", "trailer", "upgrade",
	"proxy-connection", "via",
}

// RuleSet is the rules of one route. The zero value is not useful; start
// from Default or Parse.
type RuleSet struct {
	// IgnoreHeaders lists lower-case header names never compared.
	IgnoreHeaders []string
	// Ignore lists path patterns never compared (a pattern covers its
	// subtree: "body.payload" ignores everything under it).
	Ignore []string
	// Timestamps lists path patterns holding timestamps, on top of the
	// ones the endpoint defines.
	Timestamps []string
	// TimestampTolerance is how far two timestamp values may be apart and
	// still be equal; AnyValue compares by relations only.
	TimestampTolerance time.Duration
	// Unordered and Ordered list patterns of lists compared as multisets,
	// or in order, on top of the endpoint's defaults; Ordered wins.
	Unordered []string
	Ordered   []string
	// Positional lists patterns of lists whose positions are different
	// fields (tuples): their findings keep the index instead of [*].
	Positional []string
	// TimeOrderByRelation compares lists sorted by time (sort=newest,
	// sort=oldest) as multisets: which of two items written in the same
	// hundredth of a second comes first is timing, not behaviour, once
	// the clocks differ (replays). Their order is still checked against
	// their own modified values where the answer carries them.
	TimeOrderByRelation bool
	// ExactNumbers compares JSON numbers by their text (1.5 ≠ 1.50).
	// Off by default: JSON clients read numbers, not their spelling.
	ExactNumbers bool
	// EmptyListIsObject treats [] and {} as equal (PHP encodes an empty
	// map as a list).
	EmptyListIsObject bool
	// ContentTypeParams compares Content-Type parameters (charset) too;
	// by default only the media type is compared.
	ContentTypeParams bool
	// Relations checks timestamp relations inside each answer
	// (X-Weave-Timestamp ≥ every modified, a write's body equals its
	// X-Weave-Timestamp, two decimals) and their order across answers.
	Relations bool
}

// Default returns the rules every route starts from.
func Default() *RuleSet {
	return &RuleSet{
		IgnoreHeaders:      append([]string(nil), defaultIgnoredHeaders...),
		TimestampTolerance: 5 * time.Second,
		Relations:          true,
	}
}

// ForReplay returns a copy of rs that compares timestamps, and the order
// of lists sorted by time, by their relations only: a recording's clock is
// not the replay's.
func (rs *RuleSet) ForReplay() *RuleSet {
	c := rs.clone()
	c.TimestampTolerance = AnyValue
	c.TimeOrderByRelation = true
	return c
}

func (rs *RuleSet) clone() *RuleSet {
	c := *rs
	c.IgnoreHeaders = append([]string(nil), rs.IgnoreHeaders...)
	c.Ignore = append([]string(nil), rs.Ignore...)
	c.Timestamps = append([]string(nil), rs.Timestamps...)
	c.Unordered = append([]string(nil), rs.Unordered...)
	c.Ordered = append([]string(nil), rs.Ordered...)
	c.Positional = append([]string(nil), rs.Positional...)
	return &c
}

// yamlRules is the `diff:` block. Pointers tell "absent" from "false".
type yamlRules struct {
	IgnoreHeaders       []string `yaml:"ignore_headers"`
	CompareHeaders      []string `yaml:"compare_headers"`
	Ignore              []string `yaml:"ignore"`
	Timestamps          []string `yaml:"timestamps"`
	TimestampTolerance  *string  `yaml:"timestamp_tolerance"`
	Unordered           []string `yaml:"unordered"`
	Ordered             []string `yaml:"ordered"`
	Positional          []string `yaml:"positional"`
	TimeOrderByRelation *bool    `yaml:"time_order_by_relation"`
	ExactNumbers        *bool    `yaml:"exact_numbers"`
	EmptyListIsObject   *bool    `yaml:"empty_list_is_object"`
	ContentTypeParams   *bool    `yaml:"content_type_params"`
	Relations           *bool    `yaml:"relations"`
}

// Parse reads a route's `diff:` block (YAML) on top of Default. An empty
// block gives the defaults. Unknown keys are errors, with their line.
func Parse(b []byte) (*RuleSet, error) {
	rs := Default()
	if len(bytes.TrimSpace(b)) == 0 {
		return rs, nil
	}
	var y yamlRules
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&y); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("diff rules: %w", err)
	}
	if err := rs.apply(y); err != nil {
		return nil, fmt.Errorf("diff rules: %w", err)
	}
	return rs, nil
}

// FromNode parses a `diff:` block the proxy already holds as a YAML node.
// A nil node gives the defaults.
func FromNode(n *yaml.Node) (*RuleSet, error) {
	if n == nil || n.Kind == 0 {
		return Default(), nil
	}
	b, err := yaml.Marshal(n)
	if err != nil {
		return nil, fmt.Errorf("diff rules: %w", err)
	}
	rs, err := Parse(b)
	if err != nil && n.Line > 0 {
		return nil, fmt.Errorf("diff block at line %d: %w", n.Line, err)
	}
	return rs, err
}

func (rs *RuleSet) apply(y yamlRules) error {
	for _, h := range y.IgnoreHeaders {
		rs.IgnoreHeaders = append(rs.IgnoreHeaders, strings.ToLower(h))
	}
	for _, h := range y.CompareHeaders {
		h = strings.ToLower(h)
		kept := rs.IgnoreHeaders[:0]
		for _, x := range rs.IgnoreHeaders {
			if x != h {
				kept = append(kept, x)
			}
		}
		rs.IgnoreHeaders = kept
	}
	for _, list := range []struct {
		dst *[]string
		src []string
	}{{&rs.Ignore, y.Ignore}, {&rs.Timestamps, y.Timestamps},
		{&rs.Unordered, y.Unordered}, {&rs.Ordered, y.Ordered}, {&rs.Positional, y.Positional}} {
		for _, src := range list.src {
			p, err := pattern(src)
			if err != nil {
				return err
			}
			*list.dst = append(*list.dst, p)
		}
	}
	if y.TimestampTolerance != nil {
		d, err := parseTolerance(*y.TimestampTolerance)
		if err != nil {
			return err
		}
		rs.TimestampTolerance = d
	}
	setBool(&rs.TimeOrderByRelation, y.TimeOrderByRelation)
	setBool(&rs.ExactNumbers, y.ExactNumbers)
	setBool(&rs.EmptyListIsObject, y.EmptyListIsObject)
	setBool(&rs.ContentTypeParams, y.ContentTypeParams)
	setBool(&rs.Relations, y.Relations)
	return nil
}

// pattern checks a path pattern from YAML; header names are
// case-insensitive, so header patterns are lower-cased.
func pattern(src string) (string, error) {
	root, rest, _ := strings.Cut(src, ".")
	if i := strings.IndexByte(root, '['); i >= 0 {
		root = root[:i]
	}
	switch root {
	case "status", "body":
	case "header":
		if rest != "" {
			src = "header." + strings.ToLower(rest)
		}
	default:
		return "", fmt.Errorf("path %q: a path starts with status, header or body "+
			"(a header is header.<name>, e.g. header.x-weave-timestamp)", src)
	}
	if _, err := path.Compile(src); err != nil {
		return "", err
	}
	return src, nil
}

func setBool(dst *bool, v *bool) {
	if v != nil {
		*dst = *v
	}
}

func parseTolerance(s string) (time.Duration, error) {
	switch strings.TrimSpace(s) {
	case "any", "relations":
		return AnyValue, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("timestamp_tolerance %q: want a duration such as 5s, or \"any\"", s)
	}
	return d, nil
}
