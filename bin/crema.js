#!/usr/bin/env node
// `crema --version` answers before anything loads (the CLI's modules take a while to import).
if (process.argv.length === 3 && ['--version', '-v'].includes(process.argv[2])) {
  const { readFileSync } = await import('node:fs');
  console.log(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
  process.exit(0);
}
// A checkout installed with --ignore-scripts has no dist/ (npm install's prepare builds it): one line saying so, not
// Node's stack trace of the missing module.
const entry = new URL('../dist/cli/main.js', import.meta.url);
const { main } = await import(entry.href).catch(async (err) => {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || err.url !== entry.href) throw err;
  const { fileURLToPath } = await import('node:url');
  console.error(`crema: ${fileURLToPath(new URL('../dist/', import.meta.url))} is not built: \`npm run build\` in ${fileURLToPath(new URL('..', import.meta.url))} builds it (npm install does, unless --ignore-scripts)`);
  process.exit(2);
});

// `crema info big.prototxt | head`: a closed pipe ends the output, not the program with a stack trace.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
