// gen-schema.js writes (to standard output) the part of cdk8s-plus-28's jsii
// type information that synth.js needs to turn a Kubernetes object (plain
// JSON) into the props of the matching L1 class: for each struct reachable
// from the L1 props that the benchmark uses, its properties by lower-case
// name. The benchmark runs it once, untimed; a hand-written cdk8s app has
// this knowledge compiled in.
'use strict';
const fs = require('fs');
const path = require('path');

const jsiiFile = path.join(path.dirname(require.resolve('cdk8s-plus-28/package.json')), '.jsii');
const types = JSON.parse(fs.readFileSync(jsiiFile, 'utf8')).types;
const { L1 } = require('./kinds');

const out = {};
function visitRef(ref) {
  if (ref.fqn) visit(ref.fqn);
  if (ref.collection) visitRef(ref.collection.elementtype);
  if (ref.union) ref.union.types.forEach(visitRef);
}
function visit(fqn) {
  if (out[fqn]) return;
  const t = types[fqn];
  if (!t) throw new Error(`unknown type ${fqn}`);
  if (t.kind !== 'interface') { // a class (Quantity, IntOrString) or an enum
    out[fqn] = { kind: t.kind, name: t.name };
    return;
  }
  const props = {};
  out[fqn] = { kind: 'struct', name: t.name, props };
  for (const p of t.properties || []) {
    props[p.name.toLowerCase()] = [p.name, p.type];
    visitRef(p.type);
  }
}
for (const cls of Object.values(L1)) visit(`cdk8s-plus-28.k8s.${cls}Props`);
process.stdout.write(JSON.stringify(out));
