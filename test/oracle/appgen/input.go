// Package appgen turns a fuzzer's bytes into a stagecraft app: charts,
// pipelines, storage and stages of every kind with every prop, and the
// wiring between them. Values come mostly from small dictionaries of
// valid, boundary and colliding values, sometimes raw from the input, so
// that the fuzzer reaches both deep valid apps and odd corners.
package appgen

import (
	"encoding/binary"
	"strings"
	"time"
	"unicode"
)

// input reads values from the fuzzer's bytes; past the end it reads zeros.
// It picks good values and consistent combinations of props, except for a
// budget of risky choices (none for half the inputs, one or two for the
// others): a bad value, a raw string, or an inconsistent combination. So
// most inputs are valid apps, and an input that is invalid is invalid in
// one or two ways, the ones a validation rule must catch.
type input struct {
	data   []byte
	budget int
}

func (in *input) byte() byte {
	if len(in.data) == 0 {
		return 0
	}
	b := in.data[0]
	in.data = in.data[1:]
	return b
}

// n returns a number below max (max > 0).
func (in *input) n(max int) int { return int(in.byte()) % max }

// chance is true with probability k/8.
func (in *input) chance(k int) bool { return in.n(8) < k }

func (in *input) bool() bool { return in.byte()&1 == 1 }

// risky is true one time in eight while the budget of risky choices lasts,
// and spends it.
func (in *input) risky() bool {
	if in.budget > 0 && in.byte() >= 224 {
		in.budget--
		return true
	}
	return false
}

// keep tells whether to keep props consistent at a choice: true unless a
// risky choice is made there.
func (in *input) keep() bool { return !in.risky() }

func (in *input) u32() uint32 {
	var b [4]byte
	for i := range b {
		b[i] = in.byte()
	}
	return binary.LittleEndian.Uint32(b[:])
}

// raw is a string of up to 40 bytes taken as they are.
func (in *input) raw() string {
	n := in.n(41)
	if n > len(in.data) {
		n = len(in.data)
	}
	s := string(in.data[:n])
	in.data = in.data[n:]
	return s
}

// pick returns one of the dictionary's good values, or, as a risky choice,
// a bad one, a raw string, or a good one stretched to a length limit.
func (in *input) pick(d dict) string {
	if in.risky() {
		switch in.n(8) {
		case 0:
			return in.raw()
		case 1, 2:
			return stretch(d.good[in.n(len(d.good))], limits[in.n(len(limits))])
		}
		if len(d.bad) > 0 {
			return d.bad[in.n(len(d.bad))]
		}
	}
	return d.good[in.n(len(d.good))]
}

// limits are the lengths at which the API server's and stagecraft's
// string rules change, and one past each: a processor's or scheduled
// stage's id (52), a batch stage's (54), a DNS label or label value (63),
// a DNS subdomain (253).
var limits = []int{52, 53, 54, 55, 63, 64, 253, 254}

// stretch makes s n bytes long by repeating a character after its first
// letter or digit, so that it keeps its shape ("/data" becomes
// "/daaa…ta"); an empty s becomes n letters.
func stretch(s string, n int) string {
	if len(s) >= n {
		return s
	}
	at := strings.IndexFunc(s, func(r rune) bool { return r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) })
	if at < 0 {
		return s + strings.Repeat("a", n-len(s))
	}
	fill := "a"
	if unicode.IsUpper(rune(s[at])) {
		fill = "A"
	}
	return s[:at+1] + strings.Repeat(fill, n-len(s)) + s[at+1:]
}

// opt returns "" (the default) half the time, else pick(d).
func (in *input) opt(d dict) string {
	if in.bool() {
		return ""
	}
	return in.pick(d)
}

// count picks a small count, or, as a risky choice, one at or beyond a
// limit, or a raw one.
func (in *input) count() int32 {
	if in.risky() {
		if in.n(4) == 0 {
			return int32(in.u32())
		}
		return badCounts[in.n(len(badCounts))]
	}
	return counts[in.n(len(counts))]
}

// optCount returns nil half the time.
func (in *input) optCount() *int32 {
	if in.bool() {
		return nil
	}
	v := in.count()
	return &v
}

// duration picks a whole number of seconds, or, as a risky choice, a bad
// one or a raw one in milliseconds.
func (in *input) duration() time.Duration {
	if in.risky() {
		if in.n(4) == 0 {
			return time.Duration(int32(in.u32())) * time.Millisecond
		}
		return badDurations[in.n(len(badDurations))]
	}
	return durations[in.n(len(durations))]
}

// list returns up to max values from f.
func list[T any](in *input, max int, f func() T) []T {
	n := in.n(max + 1)
	if n == 0 {
		return nil
	}
	out := make([]T, n)
	for i := range out {
		out[i] = f()
	}
	return out
}

// strMap returns a map of up to max entries.
func (in *input) strMap(max int, keys, values dict) map[string]string {
	n := in.n(max + 1)
	if n == 0 {
		return nil
	}
	m := map[string]string{}
	for i := 0; i < n; i++ {
		m[in.pick(keys)] = in.pick(values)
	}
	return m
}

func ptr[T any](v T) *T { return &v }
