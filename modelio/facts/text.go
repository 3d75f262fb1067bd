package facts

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Text returns the facts as the aligned two-column table `layerscope facts` prints: a label column, then
// the value (characteristics: the short value, padded, then the explanation). Counts carry thousands
// separators ("1,235,814,400"); sizes use decimal units (1 GB = 10^9 bytes).
func (f *Facts) Text() string {
	type row struct{ label, text string }
	var rows []row
	add := func(label, text string) { rows = append(rows, row{label, text}) }
	blank := func() { add("", "") }

	add("name", f.Name)
	add("family", f.Family)
	class := f.Class
	if f.BaseClass != "" {
		class += " (base " + f.BaseClass + ")"
	}
	add("class", class)
	blank()

	p := f.Parameters
	total := Commas(p.Total) + " (" + compact(p.Total)
	if p.TiedEmbeddings {
		total += ", tied embeddings counted once"
	}
	add("parameters", total+")")
	numW := len(Commas(p.Total))
	share := func(n int64) string {
		s := fmt.Sprintf("%*s", numW, Commas(n))
		if p.Total > 0 {
			s += fmt.Sprintf("  %6s", percent(n, p.Total))
		}
		return s
	}
	add("  embeddings", share(p.Embeddings))
	add("  attention", share(p.Attention))
	add("  mlp", share(p.MLP))
	add("  norms", share(p.Norms))
	lm := share(p.LMHead)
	if p.TiedEmbeddings {
		lm = fmt.Sprintf("%*s", numW, Commas(p.LMHead)) + "  tied to the token embedding"
	}
	add("  lm_head", lm)
	if p.Other != 0 {
		add("  other", share(p.Other))
	}
	switch {
	case p.BlockMax == 0:
	case p.BlockMin == p.BlockMax:
		add("  per block", fmt.Sprintf("%*s  every block", numW, Commas(p.BlockMax)))
	default:
		add("  per block", fmt.Sprintf("%*s  to %s", numW, Commas(p.BlockMin), Commas(p.BlockMax)))
	}
	if p.Active != p.Total {
		add("  active", share(p.Active)+"  per token")
	}
	blank()

	add("memory", "")
	mem := func(label string, s Size) { add("  "+label, fmt.Sprintf("%10s", s.Human)) }
	mem("fp32", f.Memory.FP32)
	mem("bf16", f.Memory.BF16)
	mem("int8", f.Memory.Int8)
	mem("int4", f.Memory.Int4)
	if s := f.Memory.Stored; s != nil {
		text := fmt.Sprintf("%10s", s.Human)
		if len(s.DTypes) > 0 {
			var dts []string
			for dt, n := range s.DTypes {
				dts = append(dts, fmt.Sprintf("%s: %s", dt, plural(int(n), "tensor", "tensors")))
			}
			sort.Strings(dts)
			text += "  " + strings.Join(dts, ", ")
		}
		add("  stored", text)
	}
	if q := f.Quantization; q != nil {
		text := q.Summary() + fmt.Sprintf(", %.2f bits per weight", q.BitsPerWeight)
		add("  quantized", text)
		if len(q.Skipped) > 0 {
			add("  kept full", strings.Join(q.Skipped, ", "))
		}
	}

	if len(f.Characteristics) > 0 {
		blank()
		valW := 0
		for _, c := range f.Characteristics {
			valW = max(valW, utf8.RuneCountInString(c.Value))
		}
		for _, c := range f.Characteristics {
			add(strings.ReplaceAll(c.Key, "_", " "), padRight(c.Value, valW)+"  "+c.Explanation)
		}
	}
	if len(f.PruningHints) > 0 {
		blank()
		add("pruning", "")
		for _, h := range f.PruningHints {
			add("  "+h.Kind, h.Text)
		}
	}
	if len(f.Warnings) > 0 {
		blank()
		add("warnings", "")
		for _, w := range f.Warnings {
			add("", w)
		}
	}

	labelW := 0
	for _, r := range rows {
		labelW = max(labelW, utf8.RuneCountInString(r.label))
	}
	var b strings.Builder
	for _, r := range rows {
		line := r.label
		if r.text != "" {
			line = padRight(r.label, labelW) + "  " + r.text
		}
		b.WriteString(strings.TrimRight(line, " "))
		b.WriteByte('\n')
	}
	return b.String()
}

func padRight(s string, w int) string {
	if n := utf8.RuneCountInString(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// ShortCount writes a parameter count the way model cards do: 1.24 B, 596 M, 81.9 M, 12.3 K, and
// plain below 10,000. The diagram, the app and the command line all print counts with it.
func ShortCount(n int64) string {
	switch {
	case n >= 1e9:
		return strconv.FormatFloat(float64(n)/1e9, 'f', 2, 64) + " B"
	case n >= 1e8:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 0, 64) + " M"
	case n >= 1e6:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " M"
	case n >= 1e4:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + " K"
	}
	return strconv.FormatInt(n, 10)
}

// Commas writes n with thousands separators: 1235814400 gives "1,235,814,400".
func Commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// threeDigits writes v (at least 1) with three significant digits: "1.24", "30.5", "596".
func threeDigits(v float64) string {
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// compact writes a parameter count as people say it: "1.24B", "596M", "12.3K".
func compact(n int64) string {
	units := []struct {
		scale  float64
		suffix string
	}{{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "K"}}
	v := float64(n)
	for i, u := range units {
		if math.Abs(v) >= u.scale {
			s := threeDigits(v / u.scale)
			// 999.6M rounds to "1000M": say "1.00B" instead.
			if s == "1000" && i > 0 {
				return "1.00" + units[i-1].suffix
			}
			return s + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// humanBytes writes a byte count in decimal units with two decimals: "2.47 GB" (1 GB = 10^9 bytes).
func humanBytes(n int64) string {
	units := []struct {
		scale  float64
		suffix string
	}{{1e12, "TB"}, {1e9, "GB"}, {1e6, "MB"}, {1e3, "kB"}}
	for _, u := range units {
		if float64(n) >= u.scale {
			return strconv.FormatFloat(float64(n)/u.scale, 'f', 2, 64) + " " + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + " B"
}

// number writes a config float without a needless exponent or fraction: 500000, 32, 0.5.
func number(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// percent is part/total with one decimal: "21.3%".
func percent(part, total int64) string {
	return strconv.FormatFloat(100*float64(part)/float64(total), 'f', 1, 64) + "%"
}

// pct writes a fraction as a whole percentage: 0.4 gives "40%".
func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', -1, 64) + "%" }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// joinAnd joins names as a sentence does: "q_proj, k_proj and v_proj".
func joinAnd(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// ordinal writes 6 as "6th", 2 as "2nd".
func ordinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return strconv.Itoa(n) + suffix
}
