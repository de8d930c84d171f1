// synth.js is the native cdk8s side of stagecraft's synth benchmark: it
// creates each of the benchmark's objects (a JSON array, exported once from
// stagecraft's output) in one cdk8s App and Chart, then app.synth() writes
// the chart's YAML into --out.
//
//   --mode l1   (default) each object becomes the matching cdk8s-plus-28 L1
//               class (KubeDeployment, ...), its props converted from the
//               Kubernetes JSON with the type information of --schema
//               (written by gen-schema.js): what a cdk8s app that
//               declares the same objects in JavaScript does.
//   --mode api  each object becomes a plain cdk8s ApiObject.
'use strict';
const fs = require('fs');

function flag(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) {
    if (dflt === undefined) throw new Error(`--${name} is required`);
    return dflt;
  }
  return process.argv[i + 1];
}
const objectsFile = flag('objects');
const outdir = flag('out');
const mode = flag('mode', 'l1');

const { App, Chart, ApiObject } = require('cdk8s');
const objs = JSON.parse(fs.readFileSync(objectsFile, 'utf8'));
const app = new App({ outdir });
const chart = new Chart(app, 'bench');

if (mode === 'api') {
  objs.forEach((o, i) => new ApiObject(chart, `o${i}`, o));
} else if (mode === 'l1') {
  // What `cdk8s import` generates; cdk8s-plus-28 ships it for Kubernetes 1.28.
  const k8s = require('cdk8s-plus-28/lib/imports/k8s');
  const { L1 } = require('./kinds');
  const schema = JSON.parse(fs.readFileSync(flag('schema'), 'utf8'));

  const convert = (ref, v, at) => {
    if (ref.primitive) return ref.primitive === 'date' ? new Date(v) : v;
    if (ref.collection) {
      const e = ref.collection.elementtype;
      if (ref.collection.kind === 'array') return v.map((x, i) => convert(e, x, `${at}[${i}]`));
      const m = {};
      for (const k of Object.keys(v)) m[k] = convert(e, v[k], `${at}.${k}`);
      return m;
    }
    const t = schema[ref.fqn];
    switch (t.name) {
      case 'Quantity': return typeof v === 'number' ? k8s.Quantity.fromNumber(v) : k8s.Quantity.fromString(v);
      case 'IntOrString': return typeof v === 'number' ? k8s.IntOrString.fromNumber(v) : k8s.IntOrString.fromString(v);
    }
    if (t.kind === 'struct') return struct(t, v, at);
    if (t.kind === 'enum') return v;
    throw new Error(`${at}: unsupported type ${ref.fqn}`);
  };
  const struct = (t, v, at) => {
    const out = {};
    for (const k of Object.keys(v)) {
      const p = t.props[k.toLowerCase()];
      if (!p) throw new Error(`${at}.${k}: no such field in ${t.name}`);
      out[p[0]] = convert(p[1], v[k], `${at}.${k}`);
    }
    return out;
  };

  objs.forEach((o, i) => {
    const { apiVersion, kind, ...rest } = o;
    const cls = L1[`${apiVersion}/${kind}`];
    if (!cls) throw new Error(`no L1 class for ${apiVersion}/${kind}`);
    new k8s[cls](chart, `o${i}`, struct(schema[`cdk8s-plus-28.k8s.${cls}Props`], rest, kind));
  });
} else {
  throw new Error(`unknown --mode ${mode}`);
}
app.synth();
