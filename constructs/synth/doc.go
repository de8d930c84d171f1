// Package synth writes the apps built with stagecraft: it lays out the
// objects stagecraft.Synthesize builds as manifest files (one per chart by
// default, or one per object), adds a kustomization.yaml that lists them
// and the pipeline diagram, compares the objects with the previous output
// (the upgrade check), and replaces an app's output folder
// atomically, so that a failed synthesis leaves the previous output
// exactly as it was.
//
// An app's main function is one call:
//
//	func main() { synth.MainChart("seed", synth.Options{}, define) }
//
// writes dist/seed/ (or $STAGECRAFT_DIST/seed/), or prints every problem of
// the app's pipelines and exits with status 1. Main takes an App the app
// built itself, for apps with several charts or other cdk8s constructs;
// MainEnvironments writes one folder per environment from one definition.
package synth
