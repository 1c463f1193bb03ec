package auth

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"
)

// testdata/derived-names.jsonl was produced by Python's idna codec + sha1 +
// b32encode, the algorithm of server-core's extract_username.
func TestDeriveUsernameMatchesPython(t *testing.T) {
	f, err := os.Open("testdata/derived-names.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var pair [2]string
		if err := json.Unmarshal(sc.Bytes(), &pair); err != nil {
			t.Fatal(err)
		}
		got, err := DeriveUsername(pair[0])
		if err != nil || got != pair[1] {
			t.Errorf("DeriveUsername(%q) = %q, %v; want %q", pair[0], got, err, pair[1])
		}
		if !LooksDerived(got) {
			t.Errorf("LooksDerived(%q) = false", got)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no vectors read")
	}
}

func TestNormalizeUsername(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Alice", "alice", true},
		{"a.b_c-9", "a.b_c-9", true},
		{"tarek@ziade.org", "m66w2ibb2voujg273jdyn25ihkbum4pt", true},
		{"TAREK@ZIADE.ORG", "m66w2ibb2voujg273jdyn25ihkbum4pt", true},
		{"bad name", "", false},
		{"", "", false},
		{"ünïcode", "", false},
		{"no@", "", true}, // derivable; the address check belongs to e-mail validation
	}
	for _, tt := range tests {
		got, err := NormalizeUsername(tt.in)
		if (err == nil) != tt.ok || (tt.want != "" && got != tt.want) {
			t.Errorf("NormalizeUsername(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestClientDerivedUsernameDiffersOnlyForIDN(t *testing.T) {
	ascii, _ := DeriveUsername("Alice@Example.COM")
	if c := ClientDerivedUsername("Alice@Example.COM"); c != ascii {
		t.Errorf("ASCII address: client %q server %q", c, ascii)
	}
	idn, _ := DeriveUsername("josé@bücher.example")
	if c := ClientDerivedUsername("josé@bücher.example"); c == idn {
		t.Errorf("IDN address: both forms equal %q, the IDN step did nothing", c)
	}
}

func TestLooksDerived(t *testing.T) {
	for name, want := range map[string]bool{
		"m66w2ibb2voujg273jdyn25ihkbum4pt": true,
		"M66W2IBB2VOUJG273JDYN25IHKBUM4PT": true,
		"m66w2ibb2voujg273jdyn25ihkbum4p1": false, // 1 is not base32
		"alice":                            false,
	} {
		if got := LooksDerived(name); got != want {
			t.Errorf("LooksDerived(%q) = %v", name, got)
		}
	}
}
