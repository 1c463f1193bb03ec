package rules

import (
	"fmt"
	"strings"
	"time"

	"github.com/weaveproxy/weaveproxy/diff/path"
)

// Compiled is a RuleSet applied to one request: the endpoint's defaults
// merged with the route's declarations, patterns compiled.
type Compiled struct {
	Endpoint          Endpoint
	Tolerance         time.Duration
	ExactNumbers      bool
	EmptyListIsObject bool
	ContentTypeParams bool
	Relations         bool

	ignoreHeaders map[string]bool
	ignore        path.Set
	timestamps    path.Set // header timestamps: always
	bodyStamps    path.Set // body timestamps: only when both answers are 2xx
	unordered     path.Set
	ordered       path.Set
	gen           path.Generalizer
	keys          map[string]string // Key's memo: filters ask for every node
}

// endpointStamps are the body fields holding timestamps, per API call
// (storage.md §1 and §3): info/collections values, each WBO's modified,
// and the bare timestamp a write answers.
var endpointStamps = map[Kind][]string{
	InfoCollections:  {"body.*"},
	CollectionGet:    {"body[*].modified"},
	ItemGet:          {"body.modified"},
	CollectionPost:   {"body.modified", "body"},
	ItemPut:          {"body"},
	ItemDelete:       {"body"},
	CollectionDelete: {"body"},
	StorageDelete:    {"body"},
}

// Compile applies rs to a request.
func (rs *RuleSet) Compile(method, target string) (*Compiled, error) {
	ep := Classify(method, target)
	c := &Compiled{
		Endpoint:          ep,
		Tolerance:         rs.TimestampTolerance,
		ExactNumbers:      rs.ExactNumbers,
		EmptyListIsObject: rs.EmptyListIsObject,
		ContentTypeParams: rs.ContentTypeParams,
		Relations:         rs.Relations,
		ignoreHeaders:     make(map[string]bool, len(rs.IgnoreHeaders)),
	}
	for _, h := range rs.IgnoreHeaders {
		c.ignoreHeaders[strings.ToLower(h)] = true
	}
	var stamps, unordered []string
	stamps = append(stamps, "header.x-weave-timestamp")
	stamps = append(stamps, endpointStamps[ep.Kind]...)
	stamps = append(stamps, rs.Timestamps...)
	if ep.Kind == CollectionGet && !ep.Sorted() {
		// Without sort the rows come in database order, which the API
		// leaves unspecified (storage.md §2, §11.40).
		unordered = append(unordered, "body")
	}
	if ep.Kind == CollectionGet && ep.SortKey() == "modified" && rs.TimeOrderByRelation {
		unordered = append(unordered, "body")
	}
	unordered = append(unordered, rs.Unordered...)
	all, err := path.CompileSet(stamps)
	if err != nil {
		return nil, fmt.Errorf("timestamps: %w", err)
	}
	for _, pt := range all {
		if strings.HasPrefix(pt.String(), "body") {
			c.bodyStamps = append(c.bodyStamps, pt)
		} else {
			c.timestamps = append(c.timestamps, pt)
		}
	}
	if c.ignore, err = path.CompileSet(rs.Ignore); err != nil {
		return nil, fmt.Errorf("ignore: %w", err)
	}
	if c.unordered, err = path.CompileSet(unordered); err != nil {
		return nil, fmt.Errorf("unordered: %w", err)
	}
	if c.ordered, err = path.CompileSet(rs.Ordered); err != nil {
		return nil, fmt.Errorf("ordered: %w", err)
	}
	if ep.Kind == CollectionPost {
		// failed is keyed by the ids the client sent: one field, not one
		// per id.
		c.gen.Dynamic = append(c.gen.Dynamic, path.MustCompile("body.failed.*"))
	}
	positional := rs.Positional
	if ep.Kind == InfoQuota {
		positional = append(positional, "body") // [used_kb, quota_kb]
	}
	if c.gen.Positional, err = path.CompileSet(positional); err != nil {
		return nil, fmt.Errorf("positional: %w", err)
	}
	return c, nil
}

// IgnoreHeader reports whether a (lower-case) header is never compared.
func (c *Compiled) IgnoreHeader(name string) bool { return c.ignoreHeaders[name] }

// Ignored reports whether a concrete path lies in an ignored subtree.
func (c *Compiled) Ignored(p string) bool { return c.ignore.MatchPrefix(c.Key(p)) }

// Timestamp reports whether a concrete path holds a timestamp. Body
// timestamps count only when both answers succeeded (bothOK): an error
// answer's bare number is a Weave error code, not a time.
func (c *Compiled) Timestamp(p string, bothOK bool) bool {
	k := c.Key(p)
	if c.timestamps.Match(k) {
		return true
	}
	return bothOK && c.bodyStamps.Match(k)
}

// Unordered reports whether the list at a concrete path is a multiset.
func (c *Compiled) Unordered(p string) bool {
	k := c.Key(p)
	return c.unordered.Match(k) && !c.ordered.Match(k)
}

// Key generalises a concrete path into the key findings are counted by.
// A Compiled is used by one comparison at a time, so the memo needs no lock.
func (c *Compiled) Key(p string) string {
	if k, ok := c.keys[p]; ok {
		return k
	}
	k := c.gen.Key(p)
	if c.keys == nil {
		c.keys = make(map[string]string)
	}
	c.keys[p] = k
	return k
}
