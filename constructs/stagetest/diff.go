package stagetest

import (
	"fmt"
	"slices"
	"strings"
)

// Diff describes how the YAML got differs from want, object by object, for
// a reviewer: a summary line, then for each object that changed a header
// naming it, followed by a unified line diff whose line numbers are those
// of the whole streams:
//
//	~ Deployment ai-pipeline/data-processor
//	    @@ -64,7 +64,7 @@
//	           containers:
//	    -        - image: ghcr.io/stagecraft-dev/data-processor:1.0.0
//	    +        - image: ghcr.io/stagecraft-dev/data-processor:1.1.0
//
// An object that only got has is headed "+ Kind namespace/name" and
// followed by its lines; one that only want has is named by a line
// "- Kind namespace/name (lines a-b of the golden file)". Objects are matched by kind,
// namespace and name. When the objects are the same but their order or the
// text between them changed, or when either side is not a stream of
// Kubernetes objects, Diff gives a plain unified diff of the whole text.
// Diff returns "" when want and got are equal.
func Diff(want, got []byte) string {
	w, g := normalize(string(want)), normalize(string(got))
	if w == g {
		return ""
	}
	wd, werr := parseDocs([]byte(w))
	gd, gerr := parseDocs([]byte(g))
	if werr != nil || gerr != nil {
		err := werr
		side := "golden"
		if err == nil {
			err, side = gerr, "new"
		}
		return fmt.Sprintf("(the %s YAML does not parse as Kubernetes objects: %v; whole-text diff)\n%s", side, err, indent(lineDiff(lines(w), lines(g), 1, 1)))
	}
	d := diffDocs(wd, gd)
	summary := fmt.Sprintf("%d changed, %d added, %d removed", d.changed, d.added, d.removed)
	if d.reordered {
		summary += "; the order of the objects changed"
	}
	if d.changed+d.added+d.removed == 0 {
		return summary + "; whole-text diff:\n" + indent(lineDiff(lines(w), lines(g), 1, 1))
	}
	return summary + "\n" + d.text.String()
}

// docDiff is the difference between two lists of documents, object by
// object.
type docDiff struct {
	text                    strings.Builder
	changed, added, removed int
	reordered               bool
}

// diffDocs pairs the documents of want and got by object and describes
// each change.
func diffDocs(wd, gd []doc) *docDiff {
	wkeys, gkeys := docKeys(wd), docKeys(gd)
	wat, gat := indexOf(wkeys), indexOf(gkeys)
	renamed := renames(wd, gd, wat, gat, wkeys, gkeys)
	d := &docDiff{}
	for i, doc := range gd {
		j, ok := wat[gkeys[i]]
		if r, isRenamed := renamed[i]; !ok && isRenamed {
			d.changed++
			fmt.Fprintf(&d.text, "~ %s renamed to %s\n", Describe(wd[r].obj), doc.obj.GetName())
			d.text.WriteString(indent(lineDiff(lines(wd[r].text), lines(doc.text), wd[r].start, doc.start)))
			continue
		}
		if !ok {
			d.added++
			fmt.Fprintf(&d.text, "+ %s\n", Describe(doc.obj))
			d.text.WriteString(indent(lineDiff(nil, lines(doc.text), wd0(wd), doc.start)))
			continue
		}
		if wd[j].text != doc.text {
			d.changed++
			fmt.Fprintf(&d.text, "~ %s\n", Describe(doc.obj))
			d.text.WriteString(indent(lineDiff(lines(wd[j].text), lines(doc.text), wd[j].start, doc.start)))
		}
	}
	wasRenamed := map[int]bool{}
	for _, j := range renamed {
		wasRenamed[j] = true
	}
	for j, doc := range wd {
		if _, ok := gat[wkeys[j]]; !ok && !wasRenamed[j] {
			d.removed++
			fmt.Fprintf(&d.text, "- %s (lines %d-%d of the golden file)\n", Describe(doc.obj), doc.start, doc.start+len(lines(doc.text))-1)
		}
	}
	var common []string
	for _, k := range wkeys {
		if _, ok := gat[k]; ok {
			common = append(common, k)
		}
	}
	d.reordered = !slices.Equal(common, slices.DeleteFunc(slices.Clone(gkeys), func(k string) bool {
		_, ok := wat[k]
		return !ok
	}))
	return d
}

// renames pairs the objects that only one side has by kind, namespace and
// stage (the app.kubernetes.io/name label), when exactly one object of
// each side matches: a Job whose run got a new name. It maps the index in
// gd to the index in wd.
func renames(wd, gd []doc, wat, gat map[string]int, wkeys, gkeys []string) map[int]int {
	stageKey := func(d doc) string {
		stage := d.obj.GetLabels()[stageLabel]
		if stage == "" {
			return ""
		}
		return d.obj.GetKind() + "/" + d.obj.GetNamespace() + "/" + stage
	}
	onlyWant, onlyGot := map[string][]int{}, map[string][]int{}
	for j, d := range wd {
		if _, ok := gat[wkeys[j]]; !ok && stageKey(d) != "" {
			onlyWant[stageKey(d)] = append(onlyWant[stageKey(d)], j)
		}
	}
	for i, d := range gd {
		if _, ok := wat[gkeys[i]]; !ok && stageKey(d) != "" {
			onlyGot[stageKey(d)] = append(onlyGot[stageKey(d)], i)
		}
	}
	out := map[int]int{}
	for k, gs := range onlyGot {
		if ws := onlyWant[k]; len(ws) == 1 && len(gs) == 1 {
			out[gs[0]] = ws[0]
		}
	}
	return out
}

// indexOf maps each key to its position.
func indexOf(keys []string) map[string]int {
	at := make(map[string]int, len(keys))
	for i, k := range keys {
		at[k] = i
	}
	return at
}

// wd0 is the line number to show for an object added to want: the line
// after its end.
func wd0(wd []doc) int {
	if len(wd) == 0 {
		return 1
	}
	last := wd[len(wd)-1]
	return last.start + len(lines(last.text))
}

// docKeys identifies each object by kind, namespace and name; a repeated
// identity gets a "#n" suffix so that every key is unique.
func docKeys(docs []doc) []string {
	seen := map[string]int{}
	keys := make([]string, len(docs))
	for i, d := range docs {
		k := Describe(d.obj)
		seen[k]++
		if n := seen[k]; n > 1 {
			k = fmt.Sprintf("%s#%d", k, n)
		}
		keys[i] = k
	}
	return keys
}

func normalize(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n    ") + "\n"
}

// op is one line of an edit script: ' ' kept, '-' only in a, '+' only in b.
type op struct {
	kind byte
	text string
}

// maxCells bounds the LCS table of lineDiff; past it, the differing middle
// is shown as removed then added.
const maxCells = 16 << 20

// editScript returns a shortest edit script from a to b (a longest common
// subsequence of lines, found by dynamic programming after trimming the
// common prefix and suffix).
func editScript(a, b []string) []op {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var ops []op
	for _, l := range a[:pre] {
		ops = append(ops, op{' ', l})
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	n, m := len(ma), len(mb)
	if n*m > maxCells {
		for _, l := range ma {
			ops = append(ops, op{'-', l})
		}
		for _, l := range mb {
			ops = append(ops, op{'+', l})
		}
	} else {
		// lcs[i*(m+1)+j] is the LCS length of ma[i:] and mb[j:].
		lcs := make([]int32, (n+1)*(m+1))
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					lcs[i*(m+1)+j] = lcs[(i+1)*(m+1)+j+1] + 1
				} else {
					lcs[i*(m+1)+j] = max(lcs[(i+1)*(m+1)+j], lcs[i*(m+1)+j+1])
				}
			}
		}
		i, j := 0, 0
		for i < n || j < m {
			switch {
			case i < n && j < m && ma[i] == mb[j]:
				ops = append(ops, op{' ', ma[i]})
				i++
				j++
			case i < n && (j == m || lcs[(i+1)*(m+1)+j] >= lcs[i*(m+1)+j+1]):
				// On a tie, take the removal: a hunk lists removals first.
				ops = append(ops, op{'-', ma[i]})
				i++
			default:
				ops = append(ops, op{'+', mb[j]})
				j++
			}
		}
	}
	for _, l := range a[len(a)-suf:] {
		ops = append(ops, op{' ', l})
	}
	return ops
}

// context is the number of unchanged lines shown around a change.
const context = 3

// lineDiff returns the unified diff hunks from a to b, whose first lines
// are lines aStart and bStart of their files.
func lineDiff(a, b []string, aStart, bStart int) string {
	ops := editScript(a, b)
	var out strings.Builder
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		// A hunk: from context lines before this change to context lines
		// after the last change that is at most 2*context lines further.
		lo := max(0, i-context)
		hi := i
		for k := i; k < len(ops); k++ {
			if ops[k].kind != ' ' {
				hi = k
			} else if k-hi > 2*context {
				break
			}
		}
		hi = min(len(ops), hi+1+context)
		ai, bi := aStart, bStart
		for _, o := range ops[:lo] {
			if o.kind != '+' {
				ai++
			}
			if o.kind != '-' {
				bi++
			}
		}
		na, nb := 0, 0
		for _, o := range ops[lo:hi] {
			if o.kind != '+' {
				na++
			}
			if o.kind != '-' {
				nb++
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(ai, na), hunkRange(bi, nb))
		for _, o := range ops[lo:hi] {
			out.WriteByte(o.kind)
			out.WriteString(o.text)
			out.WriteByte('\n')
		}
		i = hi
	}
	return out.String()
}

// hunkRange formats a hunk's range as unified diff does: an empty range
// names the line before it.
func hunkRange(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start-1)
	}
	if n == 1 {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}
