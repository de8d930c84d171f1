package fuzz

import (
	"math/rand"
	"testing"

	"github.com/stagecraft-dev/stagecraft/test/oracle/appgen"
)

// TestGeneratorReachesValidApps checks that random inputs give valid apps
// often enough for the fuzz targets to test the oracle's side of the
// property, not only stagecraft's rejections; and runs the property on
// each.
func TestGeneratorReachesValidApps(t *testing.T) {
	if testing.Short() {
		t.Skip("synthesizes many apps")
	}
	r := rand.New(rand.NewSource(17))
	for _, kind := range []appgen.Kind{appgen.Mixed, appgen.Processors, appgen.Batches, appgen.Schedules, appgen.Storage} {
		valid := 0
		const n = 60
		for i := 0; i < n; i++ {
			data := make([]byte, 64+r.Intn(400))
			for j := range data {
				// Small bytes pick the first, valid values of the dictionaries.
				data[j] = byte(r.Intn(8))
				if r.Intn(4) == 0 {
					data[j] = byte(r.Intn(256))
				}
			}
			ok, msgs := property(data, kind)
			for _, m := range msgs {
				t.Errorf("kind %d, input %q: %s", kind, data, m)
			}
			if ok {
				valid++
			}
		}
		t.Logf("kind %d: %d of %d random inputs valid", kind, valid, n)
		if valid < n/10 {
			t.Errorf("kind %d: only %d of %d random inputs are valid apps", kind, valid, n)
		}
	}
}
