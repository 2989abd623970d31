package loadreport

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// envChromiumRequired makes a missing chromium a failure instead of a skip
// (CI installs it).
const envChromiumRequired = "ROPCWATCH_TEST_CHROMIUM_REQUIRED"

// TestHTMLReportChartsRenderInChromium opens the known-input report in
// headless Chromium, as a person would open the file, and checks the
// screenshot: every plot box holds its series' colours.
func TestHTMLReportChartsRenderInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv(envChromiumRequired) == "1" {
			t.Fatalf("%s=1 but chromium is not on PATH: %v", envChromiumRequired, err)
		}
		t.Skip("chromium is not installed; CI installs it (Debian package chromium)")
	}
	rep := Build(knownRun())
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteHTML(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	shot := screenshot(t, bin, page, filepath.Join(dir, "report.png"))

	for _, c := range rep.charts() {
		// The plot box in page pixels, less the frame's own stroke.
		box := image.Rect(c.Left+plotLeft+2, headerHeight+c.Top+plotTop+2, c.Left+plotRight-1, headerHeight+c.Top+plotBottom-1)
		for _, s := range c.Series {
			want := hexColour(t, s.Colour)
			if n := countNear(shot, box, want); n < 20 {
				t.Errorf("chart %q: %d pixels of series %q (%s) in its plot box %v, want at least 20", c.Title, n, s.Name, s.Colour, box)
			}
		}
	}
}

// screenshot runs headless Chromium on the page and decodes its PNG.
func screenshot(t *testing.T, bin, page, out string) image.Image {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-extensions", "--hide-scrollbars", "--screenshot="+out, "--window-size=1200,1600", "file://"+page)
	// Its profile and crash reports go to the test's directory, not the
	// user's home.
	cmd.Env = append(os.Environ(), "HOME="+filepath.Dir(out))
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, msg)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 1600 {
		t.Fatalf("screenshot is %v, want 1200x1600", b)
	}
	return img
}

// countNear counts the pixels in box within a small distance of want on
// every channel (anti-aliasing blends the edges of lines and dots).
func countNear(img image.Image, box image.Rectangle, want color.RGBA) int {
	n := 0
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := box.Min.X; x < box.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if near(r>>8, want.R) && near(g>>8, want.G) && near(b>>8, want.B) {
				n++
			}
		}
	}
	return n
}

func near(got uint32, want uint8) bool {
	d := int(got) - int(want)
	return d >= -12 && d <= 12
}

func hexColour(t *testing.T, s string) color.RGBA {
	t.Helper()
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if len(s) != 7 || s[0] != '#' || err != nil {
		t.Fatalf("colour %q is not #rrggbb", s)
	}
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 255}
}
