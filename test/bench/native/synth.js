// synth.js is the native cdk8s side of stagecraft's synth benchmark: it
// creates each of the benchmark's objects (a JSON array, exported once from
// stagecraft's output) as a plain cdk8s ApiObject in one App and Chart, then
// app.synth() writes the chart's YAML into --out. It is what a cdk8s app in
// JavaScript that declares the same objects does, with the same cdk8s
// version that stagecraft's Go module wraps.
'use strict';
const fs = require('fs');

function flag(name) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) throw new Error(`--${name} is required`);
  return process.argv[i + 1];
}

const { App, Chart, ApiObject } = require('cdk8s');
const objs = JSON.parse(fs.readFileSync(flag('objects'), 'utf8'));
const app = new App({ outdir: flag('out') });
const chart = new Chart(app, 'bench');
objs.forEach((o, i) => new ApiObject(chart, `o${i}`, o));
app.synth();
