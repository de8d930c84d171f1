package stagecraft

import (
	"fmt"
	goruntime "runtime"
	"sync"

	"github.com/stagecraft-dev/stagecraft/internal/yamlout"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// encodingBatch is how many objects are encoded at once: batches keep the
// memory of a large pipeline bounded.
const encodingBatch = 256

// encodePipeline renders a pipeline and encodes its objects as YAML on
// every core, in batches, keeping their order. It returns the rendering,
// which knows the names of the pipeline's runs.
func encodePipeline(a analyzed, at *cursor) ([]Object, *rendering, error) {
	r := &rendering{p: a.p, g: a.g, at: at}
	encoders := make([]*yamlout.Encoder, goruntime.GOMAXPROCS(0))
	for i := range encoders {
		encoders[i] = yamlout.NewEncoder()
	}
	var out []Object
	batch := make([]runtime.Object, 0, encodingBatch)
	var paths []string
	flush := func() error {
		objs, err := encodeBatch(encoders, batch, paths)
		for i := range objs {
			objs[i].Construct = paths[i]
		}
		out = append(out, objs...)
		batch, paths = batch[:0], paths[:0]
		return err
	}
	err := r.each(func(o runtime.Object, path string) error {
		batch = append(batch, o)
		paths = append(paths, path)
		if len(batch) == encodingBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil && len(r.problems) > 0 {
		err = &ValidationError{Problems: r.problems}
	}
	return out, r, err
}

// encodeBatch encodes objs, spreading them over the encoders; paths are
// the paths of their constructs, for errors.
func encodeBatch(encoders []*yamlout.Encoder, objs []runtime.Object, paths []string) ([]Object, error) {
	out := make([]Object, len(objs))
	errs := make([]error, len(objs))
	var wg sync.WaitGroup
	for k, enc := range encoders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < len(objs); i += len(encoders) {
				out[i], errs[i] = encodeObject(enc, objs[i])
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("stagecraft: %s: render %s: %w", paths[i], out[i].key(), err)
		}
	}
	return out, nil
}

// encodeObject encodes one object with enc. It runs on a goroutine of its
// own, where a panic would end the program: it is returned as an error.
func encodeObject(enc *yamlout.Encoder, obj runtime.Object) (o Object, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("unexpected panic: %v", v)
		}
	}()
	gvk := obj.GetObjectKind().GroupVersionKind()
	o = Object{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind}
	if m, err := meta.Accessor(obj); err == nil {
		o.Namespace, o.Name = m.GetNamespace(), m.GetName()
	}
	o.YAML, err = enc.EncodeObject(obj)
	return o, err
}

// key names an object in messages: "Kind/namespace/name".
func (o Object) key() string { return o.Kind + "/" + o.Namespace + "/" + o.Name }
