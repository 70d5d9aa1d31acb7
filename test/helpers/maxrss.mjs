// Runs the built CLI (bin/crema.js, args as for crema) in this process and prints its peak resident memory on
// exit, as `maxrss-kb N` on stderr: the hostile-input tests bound what a crafted file may make crema allocate.
process.on('exit', () => process.stderr.write(`\nmaxrss-kb ${process.resourceUsage().maxRSS}\n`));
await import('../../bin/crema.js');
