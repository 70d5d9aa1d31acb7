#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

// `crema info big.prototxt | head`: a closed pipe ends the output, not the program with a stack trace.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
