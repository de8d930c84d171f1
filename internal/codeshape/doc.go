// Package codeshape holds tests of the library's shape: the limits that
// keep each change in one room (function and file sizes in constructs/)
// and the boundary between the construct package and the output package
// (no environment variables or file writing in stagecraft's API).
package codeshape
