// How much of two threads' run time was spent running at the same time, from `perf sched timehist` output: the
// test of whether a process's two threads ran on two cores or took turns on one (docs/PERFORMANCE.md, round
// fifty-four: with a core taken, the kernel wakes a worker on its waker's core). Usage:
//   perf sched record -o sched.data node scripts/bench-pool.mjs ...   (BUSY=1 for the hog)
//   perf sched timehist -i sched.data > th.txt
//   node scripts/sched-together.mjs th.txt MAIN_TID WORKER_TID [HOG_PID]
// Prints each thread's run time, the time both ran at once, and how often each changed CPU.
import fs from 'node:fs';

const [file, ...tids] = process.argv.slice(2);
if (!file || tids.length < 2) {
  console.error('usage: node scripts/sched-together.mjs TIMEHIST_FILE MAIN_TID WORKER_TID [HOG_PID]');
  process.exit(1);
}
/** Per thread id: its runs as [start ms, end ms, cpu], in time order. */
const runs = new Map(tids.map((t) => [t, []]));
for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
  // "   4718.227320 [0001]  node[13583/13571]   0.004   0.002   0.041": end (s), cpu, task[tid/pid], wait, delay, run (ms)
  const m = /^\s*(\d+\.\d+)\s+\[(\d+)\]\s+\S*\[(\d+)(?:\/\d+)?\]\s.*\s(\d+\.\d+)\s*$/.exec(line);
  if (!m || !runs.has(m[3])) continue;
  const end = Number(m[1]) * 1000, run = Number(m[4]);
  runs.get(m[3]).push([end - run, end, m[2]]);
}
const total = (a) => a.reduce((s, [b, e]) => s + e - b, 0);
/** Time (ms) that a and b ran at once. */
function together(a, b) {
  let o = 0;
  for (let i = 0, j = 0; i < a.length && j < b.length; ) {
    o += Math.max(0, Math.min(a[i][1], b[j][1]) - Math.max(a[i][0], b[j][0]));
    if (a[i][1] < b[j][1]) i++;
    else j++;
  }
  return o;
}
const moves = (a) => a.filter((r, i) => i > 0 && r[2] !== a[i - 1][2]).length;
const [main, worker, hog] = tids.map((t) => runs.get(t));
console.log(`main ${total(main).toFixed(0)} ms in ${main.length} runs (${moves(main)} CPU changes), worker ${total(worker).toFixed(0)} ms in ${worker.length} (${moves(worker)})`);
console.log(`main and worker at once: ${together(main, worker).toFixed(0)} ms (${((100 * together(main, worker)) / total(worker)).toFixed(0)} % of the worker's)`);
if (hog) console.log(`hog ${total(hog).toFixed(0)} ms (${moves(hog)} CPU changes); at once with main ${together(main, hog).toFixed(0)}, with the worker ${together(worker, hog).toFixed(0)}`);
