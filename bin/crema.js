#!/usr/bin/env node
// `crema --version` answers before anything loads (the CLI's modules take a while to import).
if (process.argv.length === 3 && ['--version', '-v'].includes(process.argv[2])) {
  const { readFileSync } = await import('node:fs');
  console.log(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
  process.exit(0);
}
const { main } = await import('../dist/cli/main.js');

// `crema info big.prototxt | head`: a closed pipe ends the output, not the program with a stack trace.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
