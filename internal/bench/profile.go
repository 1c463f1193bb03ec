package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Mozilla's published load profile for the Sync storage server, as
// percentages by count (index = how many).
var (
	metaGetWeights = []int{40, 60}          // GET meta/global 0 or 1 times
	collGetWeights = []int{71, 15, 7, 4, 3} // GETs of 0-4 distinct collections
	postWeights    = []int{67, 18, 9, 4, 2} // POSTs of 10 WBOs to 0-4 collections
	profileBatch   = 10                     // WBOs per POST
	payloadRepeats = [2]int{50, 200}        // payload: the user name this many times
	newerHours     = [2]int{1, 100}         // newer = now minus this many hours
	deletePercent  = 1                      // DELETE one collection, else all storage
	metaGlobalBody = `{"id":"global","payload":"{\"syncID\":\"benchbenchbe\",\"storageVersion\":3}"}`
)

// profileSession is one session of the profile: a random user of the
// pool authenticates, always reads info/collections, reads meta/global
// (and writes it when absent), reads some collections changed in the
// last hours, posts batches to some collections, and rarely deletes a
// collection or everything.
func profileSession(ctx context.Context, c *client, cfg *Config) {
	u := poolUser(cfg, c.rng.IntN(cfg.Users))
	base := "/1.0/" + u
	get := func(kind, path string) (int, bool) {
		return c.do(ctx, request{kind: kind, method: "GET", path: path, user: u})
	}
	if _, ok := get(kindInfo, base+"/info/collections"); !ok {
		return
	}
	if pick(c.rng, metaGetWeights) == 1 {
		st, ok := get(kindMetaGet, base+"/storage/meta/global")
		if !ok {
			return
		}
		if st == 404 {
			if _, ok := c.do(ctx, request{kind: kindMetaPut, method: "PUT", path: base + "/storage/meta/global",
				user: u, body: []byte(metaGlobalBody)}); !ok {
				return
			}
		}
	}
	for _, coll := range distinct(c.rng, profileCollections, pick(c.rng, collGetWeights)) {
		hours := newerHours[0] + c.rng.IntN(newerHours[1]-newerHours[0]+1)
		newer := float64(time.Now().Add(-time.Duration(hours)*time.Hour).UnixMilli()) / 1000
		if _, ok := get(kindCollGet, base+"/storage/"+coll+"?full=1&newer="+strconv.FormatFloat(newer, 'f', 2, 64)); !ok {
			return
		}
	}
	for _, coll := range distinct(c.rng, profileCollections, pick(c.rng, postWeights)) {
		if _, ok := c.do(ctx, request{kind: kindCollPost, method: "POST", path: base + "/storage/" + coll,
			user: u, body: profileBatchBody(c.rng, u, time.Now())}); !ok {
			return
		}
	}
	switch {
	case c.rng.IntN(100) < deletePercent:
		coll := profileCollections[c.rng.IntN(len(profileCollections))]
		c.do(ctx, request{kind: kindCollDelete, method: "DELETE", path: base + "/storage/" + coll, user: u})
	case c.rng.IntN(100) < deletePercent:
		c.do(ctx, request{kind: kindStorageDel, method: "DELETE", path: base + "/storage", user: u,
			header: [][2]string{{"X-Confirm-Delete", "true"}}})
	}
}

// pick draws an index with the given percentage weights (summing to 100).
func pick(rng *rand.Rand, weights []int) int {
	n := rng.IntN(100)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

// distinct picks n different elements of from in random order.
func distinct(rng *rand.Rand, from []string, n int) []string {
	idx := rng.Perm(len(from))[:min(n, len(from))]
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = from[j]
	}
	return out
}

// profileBatchBody is a POST of profileBatch WBOs: ids of 10 random bytes,
// base64-encoded, plus a suffix from the clock; payloads the user name
// repeated 50 to 200 times.
func profileBatchBody(rng *rand.Rand, user string, now time.Time) []byte {
	var b strings.Builder
	b.WriteByte('[')
	for i := range profileBatch {
		if i > 0 {
			b.WriteByte(',')
		}
		reps := payloadRepeats[0] + rng.IntN(payloadRepeats[1]-payloadRepeats[0]+1)
		fmt.Fprintf(&b, `{"id":"%s","payload":"%s"}`, profileID(rng, now), strings.Repeat(user, reps))
	}
	b.WriteByte(']')
	return []byte(b.String())
}

// profileID is 10 random bytes in URL-safe base64 and the clock's
// hundredths of a millisecond within the current 100 seconds.
func profileID(rng *rand.Rand, now time.Time) string {
	var raw [10]byte
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	suffix := now.UnixMicro() % 100_000_000 / 10
	return base64.RawURLEncoding.EncodeToString(raw[:]) + strconv.FormatInt(suffix, 10)
}
