// Goal 3's "2 threads <= 1 thread" row played out with made-up times (after `npm run build`): the busy section's
// order (`zooRatios(..., { together: true })`: native 1t, ORT 1t, native 2t, ORT 2t, one warm-up round, then
// ITER rounds each starting one contender later) with the ForwardJudge of dist/ choosing the 2-thread forwards'
// ways. One-thread and alone forwards take 100 x e^(s g), parallel ones r times that x e^(sp g) (g standard
// normal draws); prints the 2-thread median over the 1-thread one (median and p90 over RUNS runs) and the parallel
// forwards among the timed ones. No timing: the judge is given these times. Usage:
//   node scripts/sim-busy-row.mjs [ITER=8] [RUNS=4000] [SP=spread of parallel, default s] [JUDGE=path to forward-judge.js]
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { ForwardJudge } = await import(pathToFileURL(process.env.JUDGE ?? path.join(root, 'dist/runtime/forward-judge.js')).href);
const ITER = Number(process.env.ITER ?? 8), RUNS = Number(process.env.RUNS ?? 4000);
let seed = 1;
const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
const median = (a) => {
  const s = [...a].sort((p, q) => p - q), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
for (const s of [0.03, 0.06, 0.1])
  for (const r of [0.7, 0.9, 1, 1.1, 1.3, 1.6]) {
    const sp = Number(process.env.SP ?? s), ratios = [];
    let parallel = 0;
    for (let k = 0; k < RUNS; k++) {
      const judge = new ForwardJudge(), shapes = '1,3,224,224', key = `2 ${shapes}`;
      const time = (way) => 100 * Math.exp(s * gauss()) * (way === 'parallel' ? r * Math.exp(sp * gauss()) : 1);
      const one = [], two = [];
      const contenders = [
        (timed) => {
          const ms = time('alone');
          judge.oneThread(shapes, ms);
          if (timed) one.push(ms);
        },
        () => {},
        (timed) => {
          const way = judge.choose(key), ms = time(way);
          judge.record(key, way, ms);
          if (timed) two.push(ms);
          if (timed && way === 'parallel') parallel++;
        },
        () => {},
      ];
      for (const c of contenders) c(false);
      for (let round = 0; round < ITER; round++) for (let j = 0; j < 4; j++) contenders[(round + j) % 4](true);
      ratios.push(median(two) / median(one));
    }
    ratios.sort((a, b) => a - b);
    console.log(`spread ${s}, parallel / alone ${r}: 2t / 1t median ${median(ratios).toFixed(3)}, p90 ${ratios[Math.floor(0.9 * RUNS)].toFixed(3)}; parallel forwards timed ${(parallel / RUNS).toFixed(2)} of ${ITER}`);
  }
