package compare

import (
	"bytes"
	"maps"
	"slices"
	"strings"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/normalize"
	"github.com/weaveproxy/weaveproxy/diff/rules"
)

// Rule names the report shows for a pair that is equal only after rules.
const (
	RuleIgnoredHeader = "ignored header"          // + ": name"
	RuleIgnoredField  = "ignored field"           // + ": key"
	RuleTimestamp     = "timestamp tolerance"     // timestamps compared by relation or within tolerance
	RuleUnordered     = "unordered list"          // same elements, another order
	RuleNumberForm    = "same number, other form" // 1.5 and 1.50
	RuleEmptyList     = "PHP empty list"          // [] and {} alike
	RuleJSONForm      = "same JSON, other bytes"  // spacing, key order, escapes
)

// failed: a 5xx, or no answer at all (a timeout or a refused connection
// is recorded with status 0).
func failed(a diff.Answer) bool { return a.Status == 0 || a.Status >= 500 }

// explainEqual says which rules made a and b equal: they differ as bytes,
// yet Forms found nothing. QA reads it to trust (or question) a rule.
func explainEqual(c *rules.Compiled, a, b diff.Answer, fa, fb normalize.Form) []string {
	set := map[string]bool{}
	ignoredHeaders(c, a, b, set)
	ta, tb := fa.Tree(), fb.Tree()
	bothOK := ok2xx(fa.Status) && ok2xx(fb.Status)
	r := &reporter{c: c}
	if cmp.Equal(ta, tb, cmp.Reporter(r)) {
		if !bytes.Equal(a.Body, b.Body) {
			set[RuleJSONForm] = true
		}
	}
	for _, f := range r.findings {
		set[ruleFor(c, f, bothOK)] = true
	}
	return sortedSet(set)
}

// quickRules is explainEqual for a pair quickEqual decided: used are the
// rules that absorbed its differences; with none, different bytes are
// the same JSON in another form.
func quickRules(c *rules.Compiled, a, b diff.Answer, used map[string]bool) []string {
	set := map[string]bool{}
	ignoredHeaders(c, a, b, set)
	for k := range used {
		set[k] = true
	}
	if len(used) == 0 && !bytes.Equal(a.Body, b.Body) {
		set[RuleJSONForm] = true
	}
	return sortedSet(set)
}

// ignoredHeaders adds a rule for each ignored header the two answers do
// not share.
func ignoredHeaders(c *rules.Compiled, a, b diff.Answer, set map[string]bool) {
	for name, va := range a.Header {
		ln := strings.ToLower(name)
		if c.IgnoreHeader(ln) && strings.Join(va, "\x00") != strings.Join(b.Header.Values(name), "\x00") {
			set[RuleIgnoredHeader+": "+ln] = true
		}
	}
	for name := range b.Header {
		ln := strings.ToLower(name)
		if c.IgnoreHeader(ln) && len(a.Header.Values(name)) == 0 {
			set[RuleIgnoredHeader+": "+ln] = true
		}
	}
}

func sortedSet(set map[string]bool) []string { return slices.Sorted(maps.Keys(set)) }

// ruleFor names the rule that absorbs one raw difference.
func ruleFor(c *rules.Compiled, f diff.Finding, bothOK bool) string {
	switch {
	case c.Ignored(f.Path):
		return RuleIgnoredField + ": " + c.Key(f.Path)
	case c.Timestamp(f.Path, bothOK):
		return RuleTimestamp
	case c.EmptyListIsObject && (isEmpty(f.Legacy) || isEmpty(f.Native)):
		return RuleEmptyList
	case inUnordered(c, f.Path):
		return RuleUnordered
	}
	return RuleNumberForm
}

func isEmpty(shown string) bool { return shown == "[]" || shown == "{}" }

// inUnordered reports whether p lies inside a list compared as a
// multiset: some prefix of it ending before an index is unordered.
func inUnordered(c *rules.Compiled, p string) bool {
	for i := len(p) - 1; i > 0; i-- {
		if p[i] == '[' && c.Unordered(p[:i]) {
			return true
		}
	}
	return false
}
