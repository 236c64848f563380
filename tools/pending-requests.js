// A preload for finding what a stalled Node process waits for: it remembers where each async
// resource other than a promise (a file-system request, a file handle, a socket, a timer…) was made,
// and on SIGUSR2 writes those still pending after 30 seconds, each with the stack that made it, to
// pending-<pid>.txt in $PENDING_REQUESTS_DIR (default: the system's temporary directory).
//
//   NODE_OPTIONS=--import=$PWD/tools/pending-requests.js npm run bench:backup
//   kill -USR2 <pid of the stalled process>
//
// Child processes inherit NODE_OPTIONS, so a benchmark's workers load it too. Keeping a stack for
// every resource costs time: for diagnosis only, never in production.
import { createHook } from 'node:async_hooks';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

Error.stackTraceLimit = 50;
const ignored = new Set(['PROMISE', 'TickObject', 'Microtask']);
const pendingAfterMs = 30_000;
const live = new Map();
// Set while this file makes resources of its own (its signal handler, its report), which it leaves out.
let writing = true;

createHook({
  init(id, type, triggerId) {
    if (ignored.has(type) || writing) return;
    live.set(id, { type, triggerId, since: Date.now(), made: new Error(type) });
  },
  destroy(id) {
    live.delete(id);
  },
}).enable();

process.on('SIGUSR2', () => {
  writing = true;
  const now = Date.now();
  const lines = [
    `pid ${process.pid} at ${new Date(now).toISOString()}`,
    `active resources: ${JSON.stringify(process.getActiveResourcesInfo())}`,
  ];
  for (const [id, resource] of live) {
    if (now - resource.since < pendingAfterMs) continue;
    lines.push(
      `--- ${resource.type} (async id ${id}, made by ${resource.triggerId}) pending for ${(now - resource.since) / 1000} s`,
    );
    lines.push(resource.made.stack);
  }
  const dir = process.env.PENDING_REQUESTS_DIR || tmpdir();
  writeFileSync(join(dir, `pending-${process.pid}.txt`), `${lines.join('\n')}\n`);
  writing = false;
});
writing = false;
