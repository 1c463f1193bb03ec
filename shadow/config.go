package shadow

import (
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/weaveproxy/weaveproxy/diff/recorder"
	"github.com/weaveproxy/weaveproxy/diff/rules"
	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

// LearnNoiseKey is the key of a route's `diff:` block that the shadow side
// reads itself (the rest of the block is the diff package's rules): the
// share of the route's reads sent to legacy a second time, from the
// worker, so the store learns which fields differ legacy-vs-legacy.
// `true` means every read, `false` or 0 none, a number in [0, 1] that
// share. Absent: Options.LearnNoise.
//
//   - match: "GET /{version}/{user}/info/collections"
//     mode: shadow
//     diff:
//     learn_noise: 0.2
//     timestamp_tolerance: 10s
const LearnNoiseKey = "learn_noise"

// routeConf is what the shadow side makes of one route's diff: block.
type routeConf struct {
	rec        *recorder.Recorder
	learnNoise float64 // share of reads repeated on legacy; <0: Options.LearnNoise
	err        error   // the block is invalid: pairs are compared under the defaults
	// tolerance is the route's timestamp tolerance (rules.AnyValue: by
	// relations only): a read whose native run ended later than that
	// after legacy got it is not compared (worker.go).
	tolerance time.Duration
}

// confCache parses each diff: block once. It is keyed by the YAML node:
// a reload builds new nodes, so edited rules take effect with the table
// that carries them, and the cache is emptied when it grows past the
// routes a few reloads bring.
type confCache struct {
	st  *store.Store
	log *slog.Logger
	mu  sync.Mutex
	m   map[*yaml.Node]*routeConf
}

const maxCachedConfs = 512

func (c *confCache) get(n *yaml.Node) *routeConf {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rc, ok := c.m[n]; ok {
		return rc
	}
	if c.m == nil || len(c.m) >= maxCachedConfs {
		c.m = map[*yaml.Node]*routeConf{}
	}
	rc := parseConf(n)
	if rc.err != nil {
		c.log.Warn("shadow: invalid diff block, comparing under the default rules", "err", rc.err)
	}
	rs := rc.rules
	rc.routeConf.rec = recorder.New(c.st, func(string) *rules.RuleSet { return rs })
	rc.routeConf.tolerance = rs.TimestampTolerance
	c.m[n] = &rc.routeConf
	return &rc.routeConf
}

type parsedConf struct {
	routeConf
	rules *rules.RuleSet
}

// parseConf splits a diff: block into the shadow's own key and the diff
// rules. An invalid block falls back to the default rules, with the error
// kept for the log: a comparison under defaults is still evidence.
func parseConf(n *yaml.Node) parsedConf {
	pc := parsedConf{routeConf: routeConf{learnNoise: -1}}
	rest := n
	if n != nil && n.Kind == yaml.MappingNode {
		cp := *n
		cp.Content = nil
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value != LearnNoiseKey {
				cp.Content = append(cp.Content, k, v)
				continue
			}
			share, err := parseShare(v)
			if err != nil {
				pc.err = fmt.Errorf("diff block at line %d: %s: %w", k.Line, LearnNoiseKey, err)
				continue
			}
			pc.learnNoise = share
		}
		rest = &cp
	}
	rs, err := rules.FromNode(rest)
	if err != nil {
		pc.err = err
		rs = rules.Default()
	}
	pc.rules = rs
	return pc
}

func parseShare(v *yaml.Node) (float64, error) {
	switch v.Value {
	case "true", "yes", "on":
		return 1, nil
	case "false", "no", "off":
		return 0, nil
	}
	f, err := strconv.ParseFloat(v.Value, 64)
	if err != nil || f < 0 || f > 1 {
		return 0, fmt.Errorf("%q: want true, false or a share between 0 and 1", v.Value)
	}
	return f, nil
}

// CheckDiff validates a route's diff: block for routes.Parser: the shadow
// side's own key (learn_noise) here, the comparison rules in diff/rules,
// each problem at its line and column, so routes.yaml is refused at load
// instead of comparing under the default rules after a warning at the
// first shadowed request.
func CheckDiff(n *yaml.Node) []routes.Problem {
	var out []routes.Problem
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k, v := n.Content[i], n.Content[i+1]; k.Value == LearnNoiseKey {
				if _, err := parseShare(v); err != nil || v.Kind != yaml.ScalarNode {
					out = append(out, routes.Problem{Line: v.Line, Column: v.Column,
						Msg: fmt.Sprintf("diff: %s: %q: want true, false or a share between 0 and 1", LearnNoiseKey, v.Value)})
				}
			}
		}
	}
	for _, is := range rules.Check(n, LearnNoiseKey) {
		out = append(out, routes.Problem{Line: is.Line, Column: is.Column, Msg: is.Msg})
	}
	return out
}

// Parser is the routes.yaml parser of a proxy with a shadow side: diff:
// blocks are checked at load (CheckDiff).
func Parser() routes.Parser { return routes.Parser{CheckDiff: CheckDiff} }
