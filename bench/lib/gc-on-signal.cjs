// Preloaded into benchmark server processes (node --expose-gc --require …): SIGUSR2 runs a full
// garbage collection and, with HOLDFAST_BENCH_MEMORY_FILE set, writes process.memoryUsage() there, so
// memory per idle connection is measured without the garbage of earlier work.
const { writeFileSync } = require('node:fs');

process.on('SIGUSR2', () => {
  globalThis.gc?.();
  if (process.env.HOLDFAST_BENCH_MEMORY_FILE) writeFileSync(process.env.HOLDFAST_BENCH_MEMORY_FILE, JSON.stringify(process.memoryUsage()));
});
