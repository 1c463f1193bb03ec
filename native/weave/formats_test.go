package weave

import (
	"fmt"
	"testing"

	"github.com/weaveproxy/weaveproxy/native/store"
)

func TestNegotiateFormat(t *testing.T) {
	tests := []struct {
		accept string
		want   Format
	}{
		{"", FormatJSON},
		{"application/json", FormatJSON},
		{"application/newlines", FormatNewlines},
		{"application/whoisi", FormatWhoisi},
		{"*/*", FormatJSON},
		{"text/html", FormatJSON},
		{"application/xxx", FormatJSON},
		// REC #102: equal quality, the earlier offer (json) wins.
		{"application/newlines, application/json", FormatJSON},
		{"application/whoisi, application/newlines", FormatNewlines},
		{"application/newlines;q=0.9, application/json;q=0.5", FormatNewlines},
		{"application/json;q=0.1, application/whoisi", FormatWhoisi},
		{"application/json;q=0, application/newlines;q=0.2", FormatNewlines},
		// A specific mask beats a wildcard of equal quality.
		{"*/*, application/whoisi", FormatWhoisi},
		{"application/*, application/newlines", FormatNewlines},
		{"application/*;q=0.5, application/newlines;q=0.5", FormatNewlines},
		{"*/*;q=0.8, application/newlines;q=0.5", FormatJSON},
		{"APPLICATION/NEWLINES", FormatNewlines},
		{"application/newlines; charset=utf-8", FormatNewlines},
		{"application/newlines;q=abc", FormatNewlines}, // bad q counts as 1
		{"application/json;q=0", FormatJSON},           // nothing acceptable: default
		{"application/newlines;q=0", FormatJSON},
		{",,,;;;", FormatJSON},
		{"text/*;q=1, application/whoisi;q=0.3", FormatWhoisi},
		{"a*b/c, application/whoisi", FormatWhoisi},
		{"application/newlines;q=2", FormatNewlines},
	}
	for _, tt := range tests {
		if got := NegotiateFormat(tt.accept); got != tt.want {
			t.Errorf("NegotiateFormat(%q) = %v, want %v", tt.accept, got.ContentType(), tt.want.ContentType())
		}
	}
}

func sampleWBOs() []store.WBO {
	ts := store.Timestamp(179589550065)
	return []store.WBO{
		{ID: "h9", Modified: &ts, SortIndex: ptr(int64(9)), Payload: ptr("visit 9")},
		{ID: "item3", ParentID: ptr("item1"), PredecessorID: ptr("item2"), Modified: &ts,
			SortIndex: ptr(int64(-7)), Payload: ptr("p3")},
		{ID: "uni1", Modified: &ts, Payload: ptr("ünïcödé ✓ 漢字 😀 \"quoted\" \\ back\nnewline")},
		{ID: "meta-only", SortIndex: ptr(int64(2))},
		{ID: "a/b", Modified: &ts, Payload: ptr("</script>")},
	}
}

// TestFormatsGolden renders ids and full items in every format and dialect.
func TestFormatsGolden(t *testing.T) {
	items := sampleWBOs()
	for _, d := range []Dialect{Legacy, Python} {
		for _, f := range []Format{FormatJSON, FormatNewlines, FormatWhoisi} {
			name := fmt.Sprintf("records-%s-%s", d, f.ContentType()[len("application/"):])
			golden(t, name+"-ids.golden", d.AppendIDs(nil, f, items))
			golden(t, name+"-full.golden", d.AppendWBOs(nil, f, items))
			golden(t, name+"-empty.golden", d.AppendWBOs(nil, f, nil))
		}
	}
}

// TestRecordedFormats checks the bytes the legacy server sent (REC #92–#97).
func TestRecordedFormats(t *testing.T) {
	ts := store.Timestamp(179589550065)
	var items []store.WBO
	for i := 9; i >= 6; i-- {
		items = append(items, store.WBO{ID: fmt.Sprintf("h%d", i), Modified: &ts,
			SortIndex: ptr(int64(i)), Payload: ptr(fmt.Sprintf("visit %d", i))})
	}
	tests := []struct {
		f    Format
		full bool
		want string
	}{
		{FormatJSON, true, `[{"id":"h9","modified":1795895500.65,"sortindex":9,"payload":"visit 9"},{"id":"h8","modified":1795895500.65,"sortindex":8,"payload":"visit 8"},{"id":"h7","modified":1795895500.65,"sortindex":7,"payload":"visit 7"},{"id":"h6","modified":1795895500.65,"sortindex":6,"payload":"visit 6"}]`},
		{FormatJSON, false, `["h9","h8","h7","h6"]`},
		{FormatNewlines, true, "{\"id\":\"h9\",\"modified\":1795895500.65,\"sortindex\":9,\"payload\":\"visit 9\"}\n{\"id\":\"h8\",\"modified\":1795895500.65,\"sortindex\":8,\"payload\":\"visit 8\"}\n{\"id\":\"h7\",\"modified\":1795895500.65,\"sortindex\":7,\"payload\":\"visit 7\"}\n{\"id\":\"h6\",\"modified\":1795895500.65,\"sortindex\":6,\"payload\":\"visit 6\"}\n"},
		{FormatNewlines, false, "\"h9\"\n\"h8\"\n\"h7\"\n\"h6\"\n"},
		{FormatWhoisi, false, "\x00\x00\x00\x04\"h9\"\x00\x00\x00\x04\"h8\"\x00\x00\x00\x04\"h7\"\x00\x00\x00\x04\"h6\""},
		{FormatWhoisi, true, "\x00\x00\x00F{\"id\":\"h9\",\"modified\":1795895500.65,\"sortindex\":9,\"payload\":\"visit 9\"}\x00\x00\x00F{\"id\":\"h8\",\"modified\":1795895500.65,\"sortindex\":8,\"payload\":\"visit 8\"}\x00\x00\x00F{\"id\":\"h7\",\"modified\":1795895500.65,\"sortindex\":7,\"payload\":\"visit 7\"}\x00\x00\x00F{\"id\":\"h6\",\"modified\":1795895500.65,\"sortindex\":6,\"payload\":\"visit 6\"}"},
	}
	for _, tt := range tests {
		var got []byte
		if tt.full {
			got = Legacy.AppendWBOs(nil, tt.f, items)
		} else {
			got = Legacy.AppendIDs(nil, tt.f, items)
		}
		if string(got) != tt.want {
			t.Errorf("%s full=%v:\n got %q\nwant %q", tt.f.ContentType(), tt.full, got, tt.want)
		}
	}
	// REC #89 and #90: key order and escaping of a single item.
	one := sampleWBOs()[1]
	ts51 := store.Timestamp(179589550051)
	one.Modified = &ts51
	if got := string(Legacy.AppendWBO(nil, &one)); got != `{"id":"item3","parentid":"item1","modified":1795895500.51,"predecessorid":"item2","sortindex":-7,"payload":"p3"}` {
		t.Errorf("REC #89: %s", got)
	}
	uni := sampleWBOs()[2]
	ts54 := store.Timestamp(179589550054)
	uni.Modified = &ts54
	if got := string(Legacy.AppendWBO(nil, &uni)); got != `{"id":"uni1","modified":1795895500.54,"payload":"\u00fcn\u00efc\u00f6d\u00e9 \u2713 \u6f22\u5b57 \ud83d\ude00 \"quoted\" \\ back\nnewline"}` {
		t.Errorf("REC #90: %s", got)
	}
}
