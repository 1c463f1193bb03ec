package sqlstore

import "testing"

func TestParseInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"7", 7, true}, {"-7", -7, true}, {"179610608948", 179610608948, true},
		{"999999999999999999", 999999999999999999, true}, {"-2147483648", -2147483648, true},
		{"", 0, false}, {"-", 0, false}, {"1.5", 0, false}, {"12a", 0, false}, {" 1", 0, false},
		{"1234567890123456789", 1234567890123456789, true}, {"-9223372036854775808", -9223372036854775808, true},
		{"9223372036854775808", 0, false}, {"12345678901234567x9", 0, false},
	}
	for _, tt := range tests {
		got, err := parseInt([]byte(tt.in))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseInt(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
