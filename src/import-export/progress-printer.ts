// How an import shows it is getting on, on standard error (standard output keeps the summary, or
// the JSON): on a terminal one line rewritten in place; otherwise (a log, a pipe, a test) a plain
// line every 100 messages and one when a folder is done.
import type { ImportProgress, ProgressListener } from './import-report.ts';

const plainEvery = 100;

export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): {
  listener: ProgressListener;
  finish(): void;
} {
  const tty = Boolean(stream.isTTY);
  let last: ImportProgress | undefined;
  let drawnAt = 0;
  const text = (p: ImportProgress) =>
    `${p.folder}: ${p.done}${p.total === undefined ? '' : `/${p.total}`}  copied ${p.copied}  skipped ${p.skipped}  failed ${p.failed}`;
  const endFolder = () => {
    if (!last) return;
    stream.write(tty ? `\r\x1b[K${text(last)}\n` : `${text(last)} (done)\n`);
    last = undefined;
  };
  return {
    listener(progress) {
      if (last && last.folder !== progress.folder) endFolder();
      last = progress;
      if (tty) {
        const now = Date.now();
        if (now - drawnAt < 100) return;
        drawnAt = now;
        stream.write(`\r\x1b[K${text(progress)}`);
      } else if (progress.done % plainEvery === 0) stream.write(`${text(progress)}\n`);
    },
    finish: endFolder,
  };
}
