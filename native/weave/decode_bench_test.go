package weave

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// batchBody is a POST body like the bench tool's: n items of an id, a
// sortindex and a payload of size characters.
func batchBody(n, size int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		p := make([]byte, size)
		for j := range p {
			p[j] = alphabet[rng.IntN(len(alphabet))]
		}
		fmt.Fprintf(&b, `{"id":"w%05d","sortindex":%d,"payload":"%s"}`, i, rng.IntN(1000), p)
	}
	b.WriteByte(']')
	return []byte(b.String())
}

// BenchmarkDecodeBatch is the CPU a POST of 100 WBOs of 300 bytes spends
// turning its body into the items to write.
func BenchmarkDecodeBatch(b *testing.B) {
	body := batchBody(100, 300)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		v, err := DecodeJSON(body)
		if err != nil {
			b.Fatal(err)
		}
		kept, _ := SplitBatch(v.([]any), BatchLimits{})
		if len(kept) != 100 {
			b.Fatal(len(kept))
		}
	}
}

// BenchmarkParseBatch is the same body through ParseBatch.
func BenchmarkParseBatch(b *testing.B) {
	body := batchBody(100, 300)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		kept, _, ok := ParseBatch(body, BatchLimits{})
		if !ok || len(kept) != 100 {
			b.Fatal(ok, len(kept))
		}
	}
}
