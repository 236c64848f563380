#!/usr/bin/env node
// Builds the web app (docs/webmail.md) from webapp/src/ into dist/webapp/, which the HTTP
// listeners serve at /mail/: an entry JavaScript file and one CSS bundle under assets/, named by a
// hash of their content (served with a year's caching), and index.html naming them (revalidated at
// every load). Code splitting (ESM): what a dynamic import() loads — the calendar and ical.js —
// and what the two entries share are chunks of their own under assets/, fetched when needed. esbuild bundles and minifies; Preact's JSX runtime. Nothing is fetched at run time, and no
// inline script is written (the pages' Content-Security-Policy allows only these files).
// The PDF preview's pdf.js worker (pdfjs-dist's own minified build) is copied to assets/ under a
// hashed name, which the app is told at build time (PDF_WORKER_URL): workers come from this origin.
// `npm run build` (and so `npm install`, `npm start`, `npm test`) runs it from the top of the checkout.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const source = join(root, 'webapp');
const out = join(root, 'dist', 'webapp');
const entry = 'webapp/src/main.tsx';
// The admin center (docs/admin-center.md): its own bundle and page, admin.html, served at /admin/.
const adminEntry = 'webapp/src/admin/main.tsx';

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });
const pdfWorker = readFileSync(
  join(dirname(createRequire(import.meta.url).resolve('pdfjs-dist')), 'pdf.worker.min.mjs'),
);
const pdfWorkerName = `pdf.worker-${createHash('sha256').update(pdfWorker).digest('hex').slice(0, 8).toUpperCase()}.js`;
writeFileSync(join(out, 'assets', pdfWorkerName), pdfWorker);
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: entry, admin: adminEntry },
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  assetNames: '[name]-[hash]',
  splitting: true,
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'eof',
  metafile: true,
  define: { PDF_WORKER_URL: JSON.stringify(`/mail/assets/${pdfWorkerName}`) },
  logLevel: 'warning',
});
for (const [from, page] of [
  [entry, 'index.html'],
  [adminEntry, 'admin.html'],
]) {
  const [js, output] = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint === from) ?? [];
  if (!js || !output?.cssBundle) throw new Error(`esbuild made no bundle for ${from}`);
  const html = readFileSync(join(source, page), 'utf8')
    .replace('{{js}}', `/mail/assets/${basename(js)}`)
    .replace('{{css}}', `/mail/assets/${basename(output.cssBundle)}`);
  writeFileSync(join(out, page), html);
}
