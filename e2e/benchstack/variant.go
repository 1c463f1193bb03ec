package main

import (
	"fmt"
	"strings"
)

// variant is one weaveproxy target of the run: the three standard ones,
// or one more given with --variant, to compare two builds or two settings
// of the same kind side by side in one run (e.g. GOMAXPROCS=1 against the
// default): requests/s of two runs differ by more than most changes gain.
type variant struct {
	name string
	kind string   // native, proxied or shadow: the routes it serves
	env  []string // KEY=VALUE added to the environment
	bin  string   // "": --bin
	args []string // more serve flags
}

// variants is the repeatable --variant flag.
type variants []variant

func (vs *variants) String() string { return fmt.Sprint(len(*vs), " variants") }

// Set parses 'NAME=KIND [ENV=VALUE ...] [BIN] [FLAG ...]'.
func (vs *variants) Set(s string) error {
	name, rest, ok := strings.Cut(s, "=")
	f := strings.Fields(rest)
	if !ok || name == "" || len(f) == 0 {
		return fmt.Errorf("want NAME=KIND [ENV=VALUE ...] [BIN] [FLAG ...], got %q", s)
	}
	switch name {
	case "php", "native", "proxied", "shadow":
		return fmt.Errorf("%q is a standard target's name", name)
	}
	v := variant{name: name, kind: f[0]}
	switch v.kind {
	case "native", "proxied", "shadow":
	default:
		return fmt.Errorf("%s: kind %q: want native, proxied or shadow", name, v.kind)
	}
	f = f[1:]
	for len(f) > 0 && !strings.HasPrefix(f[0], "-") && strings.Contains(f[0], "=") {
		v.env, f = append(v.env, f[0]), f[1:]
	}
	if len(f) > 0 && !strings.HasPrefix(f[0], "-") {
		v.bin, f = f[0], f[1:]
	}
	v.args = f
	*vs = append(*vs, v)
	return nil
}
