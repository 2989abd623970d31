package loadreport

import (
	"math"
	"strconv"
	"strings"
)

// Chart geometry in CSS pixels: every chart has the same size and plot box,
// so the page lays them out on a fixed grid (see page.go).
const (
	chartWidth  = 570
	chartHeight = 330
	plotLeft    = 64
	plotRight   = chartWidth - 16
	plotTop     = 40
	plotBottom  = chartHeight - 40
	ticks       = 4 // intervals on each axis

	// The legend runs right of the title: a key, then the name, whose
	// width is estimated from its length at the 11px font.
	legendLeft      = 290
	legendKey       = 16
	legendCharWidth = 6.2
	legendGap       = 14
)

// Series colours; the screenshot test looks for them in the plot boxes.
const (
	colourProduced   = "#2563eb"
	colourConsumed   = "#ea580c"
	colourCommitted  = "#16a34a"
	colourProcessing = "#9333ea"
	colourEarly      = "#dc2626"
	colourFinal      = "#0891b2"
)

// chart is one SVG chart, laid out: every coordinate is in pixels of the
// chart's SVG. Fields are exported for the template.
type chart struct {
	Title  string
	Unit   string // of the y axis
	XTicks []tick
	YTicks []tick
	Series []plotted
	// Left and Top place the chart on the page's grid.
	Left, Top int
}

type tick struct {
	At    float64
	Label string
}

// plotted is one series: a line through its points, or dots at them.
type plotted struct {
	Name    string
	Colour  string
	Dots    bool
	Points  []xy
	LegendX float64 // where its key starts, right of the title
}

type xy struct{ X, Y float64 }

// series is data to plot, in data units.
type series struct {
	name, colour string
	dots         bool
	points       []xy
}

// Polyline renders the points as an SVG points attribute.
func (p plotted) Polyline() string {
	var b strings.Builder
	for i, pt := range p.Points {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(pt.X, 'f', -1, 64))
		b.WriteByte(',')
		b.WriteString(strconv.FormatFloat(pt.Y, 'f', -1, 64))
	}
	return b.String()
}

// Empty reports whether the chart has nothing to plot.
func (c chart) Empty() bool {
	for _, s := range c.Series {
		if len(s.Points) > 0 {
			return false
		}
	}
	return true
}

// geometry hands the layout constants to the template, which cannot
// compute.
type geometry struct {
	Width, Height                            int
	PlotLeft, PlotRight, PlotTop, PlotBottom int
	PlotWidth, PlotHeight                    int
	YLabelX, XLabelY, UnitY, MidX            int // where tick labels and the x-axis caption go
}

var geo = geometry{
	Width: chartWidth, Height: chartHeight,
	PlotLeft: plotLeft, PlotRight: plotRight, PlotTop: plotTop, PlotBottom: plotBottom,
	PlotWidth: plotRight - plotLeft, PlotHeight: plotBottom - plotTop,
	YLabelX: plotLeft - 6, XLabelY: plotBottom + 16, UnitY: plotBottom + 33, MidX: (plotLeft + plotRight) / 2,
}

// newChart scales the series into the plot box: x from 0 to xMax (seconds
// since the start of the replay), y from 0 to a round number at or above
// the largest value.
func newChart(title, unit string, xMax float64, ss ...series) chart {
	yMax := 0.0
	for _, s := range ss {
		for _, p := range s.points {
			yMax = max(yMax, p.Y)
		}
	}
	xTop, yTop := niceCeil(xMax), niceCeil(yMax)
	c := chart{Title: title, Unit: unit}
	for i := 0; i <= ticks; i++ {
		f := float64(i) / ticks
		c.XTicks = append(c.XTicks, tick{At: px(plotLeft + f*(plotRight-plotLeft)), Label: label(f * xTop)})
		c.YTicks = append(c.YTicks, tick{At: px(plotBottom - f*(plotBottom-plotTop)), Label: label(f * yTop)})
	}
	legendX := float64(legendLeft)
	for _, s := range ss {
		p := plotted{Name: s.name, Colour: s.colour, Dots: s.dots, Points: make([]xy, len(s.points)), LegendX: legendX}
		legendX += legendKey + legendCharWidth*float64(len(s.name)) + legendGap
		for i, pt := range s.points {
			p.Points[i] = xy{
				X: px(plotLeft + pt.X/xTop*(plotRight-plotLeft)),
				Y: px(plotBottom - pt.Y/yTop*(plotBottom-plotTop)),
			}
		}
		c.Series = append(c.Series, p)
	}
	return c
}

// niceCeil returns the least of 1, 2, 2.5, 5 times a power of ten that is at
// least v (1 for v at or below 0), so that a quarter of it is a round tick.
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) {
		return 1
	}
	p := math.Pow10(int(math.Floor(math.Log10(v))))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// label renders a tick value briefly: 1500 as 1.5k, 2000000 as 2M.
func label(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return strconv.FormatFloat(round(v/1e6, 2), 'f', -1, 64) + "M"
	case a >= 1e3:
		return strconv.FormatFloat(round(v/1e3, 2), 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(round(v, 3), 'f', -1, 64)
}

// px rounds a coordinate to a tenth of a pixel, which keeps the page small.
func px(v float64) float64 { return round(v, 1) }
