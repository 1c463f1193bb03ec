package compare

import (
	"encoding/json"
	"strings"

	"github.com/weaveproxy/weaveproxy/diff/normalize"
	"github.com/weaveproxy/weaveproxy/diff/path"
	"github.com/weaveproxy/weaveproxy/diff/rules"
)

// The fast path. Most shadowed pairs agree: the same body, or the same
// JSON in other bytes, and timestamps within the tolerance. go-cmp with
// path filters renders and matches a path at every node of both trees
// (the filters, the renderer and the edit-script search were about half of
// a shadow worker's CPU on a 100-item history answer), and explaining an
// equal pair walked the trees once more. quick walks the two trees side
// by side and renders a path only where they differ; where every
// difference is one the rules absorb the same way Forms would (an ignored
// field, a timestamp within tolerance, the same number in another form)
// the pair is equal after rules, with the rule names explainEqual would
// give. Anything else (a real difference, a list in another order or of
// another length, a difference inside an unordered list, PHP's empty
// list rule) is not decided here: the full comparison runs, so findings
// are always go-cmp's.

// step is one selector of the path to the node being walked.
type step struct {
	key   string
	index int // -1 for a key
}

type quick struct {
	c         *rules.Compiled
	bothOK    bool
	steps     []step
	unordered int             // depth of unordered lists around the node
	n         int             // differences absorbed so far
	absorbed  map[string]bool // the rule names that absorbed them
}

// quickEqual reports whether Forms would find no difference between fa
// and fb besides relations (ok), with the rules that absorbed what
// differs, and whether the bodies are equal values (sameBody: the same
// timestamps in both). ok false means undecided: run Forms.
func quickEqual(c *rules.Compiled, fa, fb normalize.Form, bodyBytesEqual bool) (ok, sameBody bool, used map[string]bool) {
	if c.EmptyListIsObject || fa.Status != fb.Status {
		return false, false, nil
	}
	q := &quick{c: c, bothOK: ok2xx(fa.Status) && ok2xx(fb.Status), absorbed: map[string]bool{}}
	q.steps = append(q.steps, step{key: "header", index: -1})
	if !q.walk(fa.Header, fb.Header) {
		return false, false, nil
	}
	if bodyBytesEqual { // Answers gave fb fa's body
		return true, true, q.absorbed
	}
	before := q.n
	q.steps = append(q.steps[:0], step{key: "body", index: -1})
	if !q.walk(fa.Body, fb.Body) {
		return false, false, nil
	}
	return true, q.n == before, q.absorbed
}

func (q *quick) push(s step) { q.steps = append(q.steps, s) }
func (q *quick) pop()        { q.steps = q.steps[:len(q.steps)-1] }

// path renders the current node's path as cmp's reporter does (render).
func (q *quick) path() string {
	var b strings.Builder
	for i, s := range q.steps {
		switch {
		case i == 0:
			b.WriteString(s.key)
		case s.index >= 0:
			b.WriteString(path.Index(s.index))
		default:
			b.WriteString(path.Key(s.key))
		}
	}
	return b.String()
}

// walk compares a and b at the current path; false: undecided.
func (q *quick) walk(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return q.differ(a, b)
		}
		for k, va := range x {
			q.push(step{key: k, index: -1})
			vb, present := y[k]
			if present {
				ok = q.walk(va, vb)
			} else {
				ok = q.differ(va, nil)
			}
			q.pop()
			if !ok {
				return false
			}
		}
		for k, vb := range y {
			if _, present := x[k]; !present {
				q.push(step{key: k, index: -1})
				ok = q.differ(nil, vb)
				q.pop()
				if !ok {
					return false
				}
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok {
			return q.differ(a, b)
		}
		if len(x) != len(y) {
			return false // cmp's edit script decides what differs
		}
		unordered := q.c.Unordered(q.path())
		if unordered {
			q.unordered++
		}
		for i := range x {
			q.push(step{index: i})
			ok = q.walk(x[i], y[i])
			q.pop()
			if !ok {
				break
			}
		}
		if unordered {
			q.unordered--
		}
		return ok
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return q.differ(a, b)
		}
		return x == y || q.number(x, y)
	case string:
		if y, ok := b.(string); ok && x == y {
			return true
		}
	case normalize.Raw:
		if y, ok := b.(normalize.Raw); ok && x == y {
			return true
		}
	case bool:
		if y, ok := b.(bool); ok && x == y {
			return true
		}
	case nil:
		if b == nil {
			return true
		}
	default:
		return false
	}
	return q.differ(a, b)
}

// number: two numbers of other text, equal under a timestamp tolerance or
// as the same value, the way options() and ruleFor decide.
func (q *quick) number(x, y json.Number) bool {
	if q.unordered > 0 {
		return false // rendered by element id in cmp's paths: leave it to cmp
	}
	p := q.path()
	switch {
	case q.c.Ignored(p):
		q.absorb(RuleIgnoredField + ": " + q.c.Key(p))
	case q.c.Timestamp(p, q.bothOK):
		if !stampEqual(q.c)(x, y) {
			return false
		}
		q.absorb(RuleTimestamp)
	default:
		if !numberEqual(q.c.ExactNumbers)(x, y) {
			return false
		}
		q.absorb(RuleNumberForm)
	}
	return true
}

// differ: a and b differ (or one is missing); only an ignored field
// absorbs that.
func (q *quick) differ(a, b any) bool {
	if q.unordered > 0 {
		return false
	}
	p := q.path()
	if !q.c.Ignored(p) {
		return false
	}
	q.absorb(RuleIgnoredField + ": " + q.c.Key(p))
	return true
}

func (q *quick) absorb(rule string) {
	q.n++
	q.absorbed[rule] = true
}
