package report

import (
	"time"

	"github.com/weaveproxy/weaveproxy/diff/store"
)

// chartPoints is about how many points a match-rate chart shows, whatever
// the length of the run: a five-minute run and a five-week one both get a
// readable line.
const chartPoints = 40

// bucketWidths are the widths a chart's buckets may take: round ones, so
// the axis reads naturally.
var bucketWidths = []time.Duration{
	10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute,
	time.Hour, 3 * time.Hour, 6 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour,
}

// fitBuckets merges the store's fine buckets into the narrowest round
// width that gives at most chartPoints points over the run they span.
func fitBuckets(bs []store.Bucket) []Bucket {
	out := []Bucket{}
	if len(bs) == 0 {
		return out
	}
	span := bs[len(bs)-1].Start.Sub(bs[0].Start)
	width := bucketWidths[len(bucketWidths)-1]
	for _, w := range bucketWidths {
		if span/w < chartPoints {
			width = w
			break
		}
	}
	var cur *store.Counts
	for _, b := range bs {
		start := b.Start.Truncate(width)
		if len(out) == 0 || !out[len(out)-1].Start.Equal(start) {
			if cur != nil {
				out[len(out)-1].fill(*cur)
			}
			out = append(out, Bucket{Start: start})
			cur = &store.Counts{}
		}
		cur.Add(b.Counts)
	}
	out[len(out)-1].fill(*cur)
	return out
}

func (b *Bucket) fill(c store.Counts) {
	b.Pairs, b.Different, b.MatchRate = c.Pairs, c.Different, rate(c.MatchRate())
}
