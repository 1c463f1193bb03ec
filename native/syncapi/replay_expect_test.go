package syncapi

import (
	"fmt"
	"strings"
)

// expected is the native answer to a recorded pair where native
// deliberately differs from the legacy server, in the compared form of
// TestReplayLegacyRecording (timestamps masked, long runs shortened,
// unsorted lists in id order), and why. docs/compat-storage.md has the
// same decisions in prose.
type expected struct {
	status  int
	records string
	body    string
	why     string
}

func (x expected) answer() string {
	return answer{status: x.status, ctype: "application/json", records: x.records, body: x.body}.String()
}

// tabs150Answer is the answer to seq 59's 150 tabs: the first 100 are
// written, the others fail with "retry wbo".
func tabs150Answer() string {
	var ok, failed []string
	for i := range 150 {
		if i < 100 {
			ok = append(ok, fmt.Sprintf(`"t%03d"`, i))
		} else {
			failed = append(failed, fmt.Sprintf(`"t%03d":["retry wbo"]`, i))
		}
	}
	return `{"success":[` + strings.Join(ok, ",") + `],"failed":{` + strings.Join(failed, ",") + `}}`
}

var deliberateStorage = map[int]expected{
	28: {200, "", `[]`, // info.usage.empty
		"info/collection_usage is implemented (spec §1.4, PY); PHP answered 400 1"},
	33: {404, "", `"Not found"`, // storage.unknown-function
		"an unknown function is a 404; PHP answered 200 with an empty body"},
	39: {200, "", `<ts>`, // put.metadata-only
		"a PUT without payload updates the row and answers its old modified (PY); PHP 8 crashed (fatal-error page)"},
	42: {400, "", `8`, // put.json-array
		"a PUT body that is not an object is 400 8 (PY); PHP answered 200 and stored nothing"},
	45: {400, "", `8`, // put.sortindex-string
		"a non-numeric sortindex is 400 8 (PY); PHP coerced it to 0 and stored the item"},
	55: {200, "", `{"success":["ok1"],"failed":{"<z×70>":["invalid id"],"":["invalid wbo"],"si":["invalid sortindex"]}}`, // post.mixed-valid-invalid
		"batch validation as PY: \"invalid wbo\" for a non-object, and si refused for its sortindex; PHP stored si with sortindex 0"},
	57: {200, "", `<ts>`, // post.not-a-list
		"a single POSTed object is a PUT of that item (PY, spec §1.8); PHP failed it with \"unable to extract from json\""},
	59: {200, "", tabs150Answer(), // post.150-items
		"a batch keeps at most 100 items, the rest fail with \"retry wbo\" (PY; clients retry them); PHP had no limit"},
	63: {200, "16", `["a b","big","dup","h0","h1","h2","h3","h4","h5","h6","h7","h8","h9","ok1","x","\u00fcn\u00ef"]`, // get.params (none)
		"cascade: history holds x (seq 57) and not si (seq 55)"},
	64: {200, "16", `[{"id":"a b","modified":<ts>,"payload":"y"},{"id":"big","modified":<ts>,"payload":"<z×200000>"},{"id":"dup","modified":<ts>,"payload":"2"},{"id":"h0","modified":<ts>,"sortindex":0,"payload":"visit 0"},{"id":"h1","modified":<ts>,"sortindex":1,"payload":"visit 1"},{"id":"h2","modified":<ts>,"sortindex":2,"payload":"visit 2"},{"id":"h3","modified":<ts>,"sortindex":3,"payload":"visit 3"},{"id":"h4","modified":<ts>,"sortindex":4,"payload":"visit 4"},{"id":"h5","modified":<ts>,"sortindex":5,"payload":"visit 5"},{"id":"h6","modified":<ts>,"sortindex":6,"payload":"visit 6"},{"id":"h7","modified":<ts>,"sortindex":7,"payload":"visit 7"},{"id":"h8","modified":<ts>,"sortindex":8,"payload":"visit 8"},{"id":"h9","modified":<ts>,"sortindex":9,"payload":"visit 9"},{"id":"ok1","modified":<ts>,"payload":"x"},{"id":"x","modified":<ts>,"payload":"y"},{"id":"\u00fcn\u00ef","modified":<ts>,"payload":"x"}]`, // get.params ?full=1
		"cascade: history holds x (seq 57) and not si (seq 55)"},
	65: {200, "16", `[{"id":"a b","modified":<ts>,"payload":"y"},{"id":"big","modified":<ts>,"payload":"<z×200000>"},{"id":"dup","modified":<ts>,"payload":"2"},{"id":"h0","modified":<ts>,"sortindex":0,"payload":"visit 0"},{"id":"h1","modified":<ts>,"sortindex":1,"payload":"visit 1"},{"id":"h2","modified":<ts>,"sortindex":2,"payload":"visit 2"},{"id":"h3","modified":<ts>,"sortindex":3,"payload":"visit 3"},{"id":"h4","modified":<ts>,"sortindex":4,"payload":"visit 4"},{"id":"h5","modified":<ts>,"sortindex":5,"payload":"visit 5"},{"id":"h6","modified":<ts>,"sortindex":6,"payload":"visit 6"},{"id":"h7","modified":<ts>,"sortindex":7,"payload":"visit 7"},{"id":"h8","modified":<ts>,"sortindex":8,"payload":"visit 8"},{"id":"h9","modified":<ts>,"sortindex":9,"payload":"visit 9"},{"id":"ok1","modified":<ts>,"payload":"x"},{"id":"x","modified":<ts>,"payload":"y"},{"id":"\u00fcn\u00ef","modified":<ts>,"payload":"x"}]`, // get.params ?full=0
		"full=0 asks for full items: any non-empty full counts (PY); PHP treated 0 as false"},
	66: {200, "16", `["h9","h8","h7","h6","h5","h4","h3","h2","h1","h0","a b","big","dup","ok1","x","\u00fcn\u00ef"]`, // get.params ?sort=index
		"cascade: x instead of si; items without sortindex (NULL) come last in any order"},
	67: {200, "16", `["a b","\u00fcn\u00ef","dup","x","ok1","h0","h1","h2","h3","h4","h5","h6","h7","h8","h9","big"]`, // get.params ?sort=newest
		"cascade: x instead of si; POSTs in the same hundredth get distinct, later timestamps"},
	68: {200, "16", `["big","h0","h1","h2","h3","h4","h5","h6","h7","h8","h9","ok1","x","dup","a b","\u00fcn\u00ef"]`, // get.params ?sort=oldest
		"cascade: x instead of si; POSTs in the same hundredth get distinct, later timestamps"},
	69: {200, "16", `["a b","big","dup","h0","h1","h2","h3","h4","h5","h6","h7","h8","h9","ok1","x","\u00fcn\u00ef"]`, // get.params ?sort=bogus
		"cascade: history holds x (seq 57) and not si (seq 55)"},
	73: {200, "16", `["a b","big","dup","h0","h1","h2","h3","h4","h5","h6","h7","h8","h9","ok1","x","\u00fcn\u00ef"]`, // get.params ?offset=2
		"cascade: history holds x (seq 57) and not si (seq 55)"},
	76: {200, "4", `["h6","h7","h8","h9"]`, // get.params ?index_above=5
		"index_above works (PY); PHP bound the wrong parameter and always answered []"},
	77: {200, "3", `["h0","h1","h2"]`, // get.params ?index_below=3
		"index_below works (PY); PHP always answered []"},
	78: {200, "3", `[{"id":"h3","modified":<ts>,"sortindex":3,"payload":"visit 3"},{"id":"h4","modified":<ts>,"sortindex":4,"payload":"visit 4"},{"id":"h5","modified":<ts>,"sortindex":5,"payload":"visit 5"}]`, // get.params ?index_above=2&index_below=6&full=1
		"index_above/index_below work (PY); PHP always answered []"},
	79: {200, "16", `["a b","big","dup","h0","h1","h2","h3","h4","h5","h6","h7","h8","h9","ok1","x","\u00fcn\u00ef"]`, // get.params ?newer=1000
		"cascade: history holds x (seq 57) and not si (seq 55)"},
	82: {400, "", `1`, // get.params ?limit=abc
		"a non-numeric limit is 400 1 (PY); PHP answered [] (LIMIT 0)"},
	83: {200, "16", `["a b","big","dup","h0","h1","h2","h3","h4","h5","h6","h7","h8","h9","ok1","x","\u00fcn\u00ef"]`, // get.params ?limit=-1
		"limit=-1 means no limit (PY); PHP sent LIMIT -1 to MySQL and answered 503"},
	84: {400, "", `1`, // get.params ?newer=abc
		"a non-numeric newer is 400 1 (PY); PHP 8 crashed (fatal-error page)"},
	91: {200, "", `{"id":"item1","modified":<ts>,"sortindex":99,"payload":"hello"}`, // get.item.metadata-updated
		"cascade: the metadata-only PUT of seq 39 took effect"},
	105: {200, "", `{"forms":1,"history":16,"bookmarks":8,"tabs":100}`, // info.counts
		"cascade: bookmarks has no si (seq 45), tabs kept 100 of 150 (seq 59)"},
	106: {200, "", `[195.748046875,5000]`, // info.quota
		"info/quota is [used KB as a float, quota KB] (PY); PHP rounded the KB to an integer"},
	107: {200, "", `{"forms":0.0009765625,"history":195.3857421875,"bookmarks":0.068359375,"tabs":0.29296875}`, // info.usage
		"info/collection_usage is implemented (spec §1.4, PY); PHP answered 400 1"},
	114: {200, "14", `["h9","h8","h7","h6","h5","h4","h3","h0","a b","big","dup","ok1","x","\u00fcn\u00ef"]`, // get.after-deletes
		"cascade: x instead of si; items without sortindex (NULL) come last in any order"},
	118: {400, "", `4`, // delete.storage.no-confirm
		"DELETE storage without X-Confirm-Delete is 400 4 (PY); PHP did not support DELETE storage (400 1)"},
	119: {200, "", `<ts>`, // delete.storage.confirm
		"DELETE storage with X-Confirm-Delete wipes the account (PY); PHP answered 400 1"},
	120: {200, "", `[]`, // info.collections.after-wipe
		"cascade: the account was wiped at seq 119"},
	122: {200, "", `[]`, // path.trailing-slash
		"cascade: the account was wiped at seq 119"},
	123: {404, "", `"Not found"`, // path.double-slash
		"an empty path segment is no route, 404; PHP answered 200 with an empty body"},
	124: {404, "", `"Not found"`, // path.encoded-id
		"an escaped '/' in an id is no route, 404 (PY, and Apache's default); PHP under php -S stored the id a%2Fb"},
	125: {200, "", `[]`, // path.encoded-id.get
		"cascade: wiped at seq 119, and a%2Fb refused at seq 124"},
	128: {200, "", `[]`, // user.password.change.new-works
		"cascade: wiped at seq 119, and a%2Fb refused at seq 124"},
}
