package arch

import (
	"math"
	"strconv"
	"strings"
)

// Repr returns exactly what PyTorch's print(model) shows for m (torch >= 2.0 repr rules: registration
// order, two-space indent, runs of identical ModuleList children folded). It lives with the module tree
// because it is part of what the tree means: identical reprs are what folds blocks, in the printout and
// in the diagram alike (Describe). render.ModuleTree is its face for the screens and the command line.
func Repr(m *Module) string {
	return repr(m)
}

func repr(m *Module) string {
	extra := extraRepr(m)
	var lines []string
	if extra != "" {
		lines = strings.Split(extra, "\n")
	}
	nExtra := len(lines)
	if m.Op == OpList {
		lines = append(lines, listChildLines(m)...)
	} else {
		for _, c := range m.Children {
			lines = append(lines, "("+c.Name+"): "+addIndent(repr(c.Module), 2))
		}
	}
	var b strings.Builder
	b.WriteString(m.Class)
	b.WriteByte('(')
	if len(lines) > 0 {
		if nExtra == 1 && len(lines) == 1 {
			b.WriteString(lines[0])
		} else {
			b.WriteString("\n  ")
			b.WriteString(strings.Join(lines, "\n  "))
			b.WriteByte('\n')
		}
	}
	b.WriteByte(')')
	return b.String()
}

// listChildLines folds runs of consecutive children whose whole repr is identical, as
// torch.nn.ModuleList.__repr__ does: "(0-15): 16 x LlamaDecoderLayer(...)".
func listChildLines(m *Module) []string {
	reprs := make([]string, len(m.Children))
	for i, c := range m.Children {
		reprs[i] = repr(c.Module)
	}
	var lines []string
	for start := 0; start < len(reprs); {
		end := start + 1
		for end < len(reprs) && reprs[end] == reprs[start] {
			end++
		}
		var head string
		if n := end - start; n == 1 {
			head = "(" + m.Children[start].Name + "): "
		} else {
			head = "(" + m.Children[start].Name + "-" + m.Children[end-1].Name + "): " + strconv.Itoa(n) + " x "
		}
		lines = append(lines, head+addIndent(reprs[start], 2))
		start = end
	}
	return lines
}

// addIndent is torch's _addindent: every line after the first gets n more spaces.
func addIndent(s string, n int) string {
	if !strings.Contains(s, "\n") {
		return s
	}
	pad := strings.Repeat(" ", n)
	return strings.ReplaceAll(s, "\n", "\n"+pad)
}

func extraRepr(m *Module) string {
	if m.ReprExtra != nil {
		return *m.ReprExtra
	}
	switch m.Op {
	case OpLinear:
		return "in_features=" + itoa(m.In) + ", out_features=" + itoa(m.Out) + ", bias=" + pyBool(m.Bias)
	case OpConv1D:
		// Conv1D overrides __repr__ itself: Conv1D(nf=out, nx=in).
		return "nf=" + itoa(m.Out) + ", nx=" + itoa(m.In)
	case OpEmbedding:
		s := itoa(m.In) + ", " + itoa(m.Out)
		if m.HasPadding {
			s += ", padding_idx=" + itoa(m.PaddingIdx)
		}
		return s
	case OpLayerNorm:
		// torch's LayerNorm.extra_repr does not mention bias, even when bias=False.
		return "(" + itoa(m.Out) + ",), eps=" + pyFloat(m.Eps) + ", elementwise_affine=True"
	case OpRMSNorm:
		return "(" + itoa(m.Out) + ",), eps=" + pyFloat(m.Eps)
	case OpDropout:
		return "p=" + pyFloat(m.P) + ", inplace=False"
	case OpTensor:
		// Not a torch repr (torch never prints bare parameters): the generic tree shows the shape.
		dims := make([]string, len(m.Shape))
		for i, d := range m.Shape {
			dims[i] = itoa(d)
		}
		return "[" + strings.Join(dims, ", ") + "]"
	}
	return ""
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// pyFloat formats f as Python's repr(float) does: the shortest string that round-trips, in positional
// notation from 1e-4 up to 1e16 (always with a ".0" when whole) and in exponent notation outside,
// with a two-digit exponent ("1e-05").
func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	a := math.Abs(f)
	if a == 0 || (a >= 1e-4 && a < 1e16) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.ContainsAny(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // "1e-05", "1.5e+20": already Python's form
	return s
}
