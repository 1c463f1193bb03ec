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

// firefoxBody is a POST body as Firefox sends it: each payload is an
// encrypted record, JSON in a string, so its quotes (and the slashes of
// its base64) come escaped.
func firefoxBody(n int) []byte {
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"rec%07d","sortindex":%d,"payload":"{\"ciphertext\":\"%s\",\"IV\":\"b4R\\/tz0hOmzKLxMJk7Ia9w==\",\"hmac\":\"%064x\"}"}`,
			i, i%1000, strings.Repeat("qL0\\/Zm8+Xy", 18), i)
	}
	b.WriteByte(']')
	return []byte(b.String())
}

// BenchmarkDecodeBatch is the CPU a POST of 100 WBOs spends turning its
// body into the items to write: the bench tool's body (payloads of 300
// characters) and Firefox's (encrypted records, with escapes).
func BenchmarkDecodeBatch(b *testing.B) {
	for _, c := range batchBodies() {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				v, err := DecodeJSON(c.body)
				if err != nil {
					b.Fatal(err)
				}
				kept, _ := SplitBatch(v.([]any), BatchLimits{})
				if len(kept) != 100 {
					b.Fatal(len(kept))
				}
			}
		})
	}
}

func batchBodies() []struct {
	name string
	body []byte
} {
	return []struct {
		name string
		body []byte
	}{{"bench", batchBody(100, 300)}, {"firefox", firefoxBody(100)}}
}

// BenchmarkParseBatch is the same body through ParseBatch, and a body of
// 100 records as Firefox sends them, with escapes.
func BenchmarkParseBatch(b *testing.B) {
	for _, c := range batchBodies() {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				kept, _, ok := ParseBatch(c.body, BatchLimits{})
				if !ok || len(kept) != 100 {
					b.Fatal(ok, len(kept))
				}
			}
		})
	}
}
