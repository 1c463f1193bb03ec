package store

import (
	"testing"
	"time"
)

func TestFromTimeRoundsToHundredths(t *testing.T) {
	cases := []struct {
		in   time.Time
		want Timestamp
	}{
		{time.Unix(1795895500, 0), 179589550000},
		{time.Unix(1795895500, 4_999_999), 179589550000}, // below half a hundredth: down
		{time.Unix(1795895500, 5_000_000), 179589550001}, // half: up, as PHP round()
		{time.Unix(1795895500, 994_999_999), 179589550099},
		{time.Unix(1795895500, 995_000_000), 179589550100}, // carries into the next second
	}
	for _, c := range cases {
		if got := FromTime(c.in); got != c.want {
			t.Errorf("FromTime(%v) = %d, want %d", c.in.UnixNano(), got, c.want)
		}
	}
}

func TestTimestampRoundTrip(t *testing.T) {
	ts := Timestamp(179589550065)
	if got := FromTime(ts.Time()); got != ts {
		t.Errorf("FromTime(Time()) = %d, want %d", got, ts)
	}
	if ts.Seconds() != 1795895500 {
		t.Errorf("Seconds() = %d", ts.Seconds())
	}
}
