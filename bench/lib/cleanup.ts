// A benchmark starts servers (Holdfast, Postfix, Dovecot) and creates directories and databases. They
// must go however the run ends — an error, Ctrl-C, SIGTERM from a job runner — or the next run finds
// the ports taken and cannot start (Dovecot daemonises: it does not die with the bench). `guarded`
// runs a step of the bench with its clean-up in a `finally`, and registers that clean-up so that a
// signal runs it too before the process exits.
const pending = new Set<() => unknown>();
let handlersInstalled = false;

function installSignalHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const [signal, number] of [
    ['SIGINT', 2],
    ['SIGTERM', 15],
    ['SIGHUP', 1],
  ] as const) {
    process.once(signal, async () => {
      process.stderr.write(`\nbench: ${signal}, stopping what this run started\n`);
      // Newest first: a server stops before the directory or database it uses is removed.
      for (const cleanup of [...pending].reverse()) {
        pending.delete(cleanup);
        try {
          await cleanup();
        } catch (error) {
          process.stderr.write(`bench: clean-up failed: ${(error as Error).message}\n`);
        }
      }
      process.exit(128 + number);
    });
  }
}

/** Runs `use`, then `cleanup` — also when `use` throws, and when the process gets a signal meanwhile. */
export async function guarded<T>(cleanup: () => unknown, use: () => Promise<T>): Promise<T> {
  installSignalHandlers();
  pending.add(cleanup);
  try {
    return await use();
  } finally {
    // A signal handler may have run it already.
    if (pending.delete(cleanup)) await cleanup();
  }
}

/** Starts something with a clean-up (a server and its stop), then runs `use` with it, guarded. */
export async function withStarted<S, T>(
  start: () => S | Promise<S>,
  stop: (started: S) => unknown,
  use: (started: S) => Promise<T>,
): Promise<T> {
  const started = await start();
  return guarded(
    () => stop(started),
    () => use(started),
  );
}
