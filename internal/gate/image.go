package gate

// Image is the reference of the gate's published image, and the tag
// `make gate-image` gives the image it builds. stagecraft's
// PipelineProps.GateImage defaults to it.
const Image = "ghcr.io/stagecraft-dev/gate:0.1.0"

// User is the numeric user and group the image runs as (non-root).
const User = 65532
