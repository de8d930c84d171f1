// Package appgen turns a fuzzer's bytes into a stagecraft app: charts,
// pipelines, storage and stages of every kind with every prop, and the
// wiring between them. Values come mostly from small dictionaries of
// valid, boundary and colliding values, sometimes raw from the input, so
// that the fuzzer reaches both deep valid apps and odd corners.
package appgen

import (
	"encoding/binary"
	"time"
)

// input reads values from the fuzzer's bytes; past the end it reads zeros.
type input struct{ data []byte }

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

// pick returns one of the dictionary's values, or (rarely) a raw string.
func (in *input) pick(dict ...string) string {
	b := in.byte()
	if b >= 248 {
		return in.raw()
	}
	return dict[int(b)%len(dict)]
}

// opt returns "" (the default) half the time, else pick(dict...).
func (in *input) opt(dict ...string) string {
	if in.bool() {
		return ""
	}
	return in.pick(dict...)
}

// int32s picks among interesting numbers, or a raw one.
func (in *input) int32(dict ...int32) int32 {
	b := in.byte()
	if b >= 240 {
		return int32(in.u32())
	}
	return dict[int(b)%len(dict)]
}

// optInt32 returns nil half the time.
func (in *input) optInt32(dict ...int32) *int32 {
	if in.bool() {
		return nil
	}
	v := in.int32(dict...)
	return &v
}

// duration picks among interesting durations, or a raw one in milliseconds.
func (in *input) duration(dict ...time.Duration) time.Duration {
	b := in.byte()
	if b >= 240 {
		return time.Duration(int32(in.u32())) * time.Millisecond
	}
	return dict[int(b)%len(dict)]
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
func (in *input) strMap(max int, keys, values []string) map[string]string {
	n := in.n(max + 1)
	if n == 0 {
		return nil
	}
	m := map[string]string{}
	for i := 0; i < n; i++ {
		m[in.pick(keys...)] = in.pick(values...)
	}
	return m
}
