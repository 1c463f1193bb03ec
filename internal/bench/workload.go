package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// workload is one kind of traffic: how many clients by default, which
// users it needs, and what one session of one client sends.
type workload struct {
	name        string
	concurrency int
	// kinds are the request kinds in the order the table lists them.
	kinds    []string
	describe func(cfg Config) string
	users    func(cfg *Config) []string
	// seeded: the workload reads the big user, who must hold
	// cfg.SeedItems WBOs.
	seeded  bool
	session func(ctx context.Context, c *client, cfg *Config)
}

// Request kinds: the rows of the table.
const (
	kindInfo       = "GET info/collections"
	kindHistory    = "GET history full limit=100 sort=index"
	kindPost100    = "POST 100 WBOs"
	kindMetaGet    = "GET meta/global"
	kindMetaPut    = "PUT meta/global"
	kindCollGet    = "GET {collection}?full=1&newer"
	kindCollPost   = "POST 10 WBOs"
	kindCollDelete = "DELETE {collection}"
	kindStorageDel = "DELETE storage"
)

// The collections of Mozilla's load profile.
var profileCollections = []string{"bookmarks", "forms", "passwords", "history", "prefs"}

func bigUser(cfg *Config) string           { return cfg.Prefix + "-big" }
func writerUser(cfg *Config, i int) string { return cfg.Prefix + "-w" + strconv.Itoa(i) }
func poolUser(cfg *Config, i int) string   { return cfg.Prefix + "-u" + strconv.Itoa(i) }

// The number of writer users of post8.
const writers = 8

var workloads = []*workload{
	{
		name: "info", concurrency: 16, kinds: []string{kindInfo}, seeded: true,
		describe: func(cfg Config) string {
			return fmt.Sprintf("GET info/collections of one user holding %d WBOs", cfg.SeedItems)
		},
		users: func(cfg *Config) []string { return []string{bigUser(cfg)} },
		session: func(ctx context.Context, c *client, cfg *Config) {
			u := bigUser(cfg)
			c.do(ctx, request{kind: kindInfo, method: "GET", path: "/1.0/" + u + "/info/collections", user: u})
		},
	},
	{
		name: "history", concurrency: 16, kinds: []string{kindHistory}, seeded: true,
		describe: func(cfg Config) string {
			return fmt.Sprintf("GET storage/history?full=1&limit=100&sort=index of one user holding %d WBOs of 300 bytes", cfg.SeedItems)
		},
		users: func(cfg *Config) []string { return []string{bigUser(cfg)} },
		session: func(ctx context.Context, c *client, cfg *Config) {
			u := bigUser(cfg)
			c.do(ctx, request{kind: kindHistory, method: "GET", user: u,
				path: "/1.0/" + u + "/storage/history?full=1&limit=100&sort=index"})
		},
	},
	{
		name: "post1", concurrency: 8, kinds: []string{kindPost100},
		describe: func(Config) string { return "POST of 100 WBOs of 300 bytes, every client writing the same user" },
		users:    func(cfg *Config) []string { return []string{writerUser(cfg, 0)} },
		session: func(ctx context.Context, c *client, cfg *Config) {
			postHundred(ctx, c, writerUser(cfg, 0))
		},
	},
	{
		name: "post8", concurrency: 8, kinds: []string{kindPost100},
		describe: func(Config) string {
			return fmt.Sprintf("POST of 100 WBOs of 300 bytes, %d users writing in parallel", writers)
		},
		users: func(cfg *Config) []string {
			var us []string
			for i := range writers {
				us = append(us, writerUser(cfg, i))
			}
			return us
		},
		session: func(ctx context.Context, c *client, cfg *Config) {
			postHundred(ctx, c, writerUser(cfg, c.worker%writers))
		},
	},
	{
		name: "mozilla", concurrency: 16,
		kinds: []string{kindInfo, kindMetaGet, kindMetaPut, kindCollGet, kindCollPost, kindCollDelete, kindStorageDel},
		describe: func(cfg Config) string {
			return fmt.Sprintf("Mozilla's Sync storage load profile, sessions of %d users", cfg.Users)
		},
		users: func(cfg *Config) []string {
			var us []string
			for i := range cfg.Users {
				us = append(us, poolUser(cfg, i))
			}
			return us
		},
		session: profileSession,
	},
}

// WorkloadNames lists the workloads Run knows, in their usual order.
func WorkloadNames() []string {
	var names []string
	for _, w := range workloads {
		names = append(names, w.name)
	}
	return names
}

func workloadByName(name string) (*workload, bool) {
	for _, w := range workloads {
		if w.name == name {
			return w, true
		}
	}
	return nil, false
}

// postHundred POSTs 100 WBOs with consecutive ids from a random start in
// a range of 10,000, so that writes are a steady mix of inserts and
// updates and one batch never names an id twice.
func postHundred(ctx context.Context, c *client, user string) {
	start := c.rng.IntN(10000 - 100)
	var b strings.Builder
	b.WriteByte('[')
	for i := range 100 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"w%05d","sortindex":%d,"payload":"%s"}`, start+i, c.rng.IntN(1000), randomPayload(c.rng, 300))
	}
	b.WriteByte(']')
	c.do(ctx, request{kind: kindPost100, method: "POST", path: "/1.0/" + user + "/storage/history", user: user,
		body: []byte(b.String())})
}

// randomPayload is n characters of URL-safe base64: no JSON escaping.
func randomPayload(rng *rand.Rand, n int) string {
	raw := make([]byte, (n*3+3)/4)
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	return base64.RawURLEncoding.EncodeToString(raw)[:n]
}
