// Runs jsii's kernel in this Node.js process, with no relay process in
// front of it (see kernel_unix.go). The kernel exchanges its messages on
// file descriptor 3, a socket that jsii's relay opens for it; here they
// travel on the standard streams that the Go side of jsii reads and
// writes: requests on 0, responses on 1. What JavaScript code prints on
// standard output goes to standard error, which jsii's Go side forwards.
'use strict';
const fs = require('fs');
const path = require('path');

const readSync = fs.readSync;
const writeSync = fs.writeSync;
fs.readSync = function (fd, ...rest) { return readSync.call(this, fd === 3 ? 0 : fd, ...rest); };
fs.writeSync = function (fd, ...rest) {
  if (fd !== 3) return writeSync.call(this, fd, ...rest);
  try {
    return writeSync.call(this, 1, ...rest);
  } catch (err) {
    // The Go process has stopped reading (it is exiting): so does the kernel.
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  }
};
Object.defineProperty(process, 'stdout', { value: process.stderr, configurable: true, enumerable: true });

// argv[2] is the entry point jsii would run, <runtime>/bin/jsii-runtime.js;
// the kernel is <runtime>/lib/program.js.
require(path.join(path.dirname(process.argv[2]), '..', 'lib', 'program.js'));
