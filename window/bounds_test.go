package window

import (
	"testing"
	"time"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestAlignerOf(t *testing.T) {
	tests := []struct {
		name   string
		align  Aligner
		at     string
		wantTo string
	}{
		{"an event exactly on the hour belongs to the window ending then", Aligner{Size: time.Hour}, "2026-05-01T10:00:00Z", "2026-05-01T10:00:00Z"},
		{"one tick after the hour opens the next window", Aligner{Size: time.Hour}, "2026-05-01T10:00:00.0000001Z", "2026-05-01T11:00:00Z"},
		{"one tick before the hour stays in the window ending on it", Aligner{Size: time.Hour}, "2026-05-01T09:59:59.9999999Z", "2026-05-01T10:00:00Z"},
		{"offsets in the input are converted to UTC", Aligner{Size: time.Hour}, "2026-05-01T12:30:00+02:00", "2026-05-01T11:00:00Z"},
		{"an offset shifts the grid", Aligner{Size: time.Hour, Offset: 15 * time.Minute}, "2026-05-01T10:15:00Z", "2026-05-01T10:15:00Z"},
		{"an offset shifts the grid past the boundary", Aligner{Size: time.Hour, Offset: 15 * time.Minute}, "2026-05-01T10:16:00Z", "2026-05-01T11:15:00Z"},
		{"times before the epoch align too", Aligner{Size: time.Hour}, "1969-12-31T22:30:00Z", "1969-12-31T23:00:00Z"},
		{"times before the epoch on the boundary", Aligner{Size: time.Hour}, "1969-12-31T23:00:00Z", "1969-12-31T23:00:00Z"},
		{"a day-long window aligns to midnight UTC", Aligner{Size: 24 * time.Hour}, "2026-05-01T00:00:01Z", "2026-05-02T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.align.Of(mustTime(t, tt.at))
			want := mustTime(t, tt.wantTo)
			if !b.End.Equal(want) {
				t.Fatalf("end = %v, want %v", b.End, want)
			}
			if !b.Start.Equal(want.Add(-tt.align.Size)) {
				t.Fatalf("start = %v, want %v", b.Start, want.Add(-tt.align.Size))
			}
			if b.End.Location() != time.UTC {
				t.Fatalf("end not in UTC: %v", b.End.Location())
			}
		})
	}
}

func TestAlignerValidate(t *testing.T) {
	if err := (Aligner{}).Validate(); err == nil {
		t.Fatal("zero size accepted")
	}
	if err := (Aligner{Size: time.Hour}).Validate(); err != nil {
		t.Fatal(err)
	}
}
