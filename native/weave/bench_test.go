package weave

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// benchItems is a page of a history collection as clients store it: 100
// items whose payload is the JSON of an encrypted record (quotes to escape,
// and for 1.0 the slashes of base64).
func benchItems() []store.WBO {
	r := rand.New(rand.NewPCG(1, 2))
	items := make([]store.WBO, 100)
	for i := range items {
		raw := make([]byte, 160)
		for j := range raw {
			raw[j] = byte(r.Uint32())
		}
		p := fmt.Sprintf(`{"ciphertext":"%s","IV":"%s","hmac":"%x"}`,
			base64.StdEncoding.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw[:16]), raw[:32])
		ts := store.Timestamp(179610608900 + i)
		si := int64(r.IntN(1000000))
		items[i] = store.WBO{ID: fmt.Sprintf("h%011d", i), Payload: &p, PayloadSize: int64(len(p)), Modified: &ts, SortIndex: &si}
	}
	return items
}

// BenchmarkAppendWBOs renders the page of a GET full=1&limit=100 in each
// dialect: go test -run '^$' -bench AppendWBOs -benchmem ./native/weave/
func BenchmarkAppendWBOs(b *testing.B) {
	items := benchItems()
	for _, d := range []Dialect{Legacy, Python} {
		b.Run(d.String(), func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				buf = d.AppendWBOs(buf[:0], FormatJSON, items)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}
