#!/usr/bin/env node
// The `holdfast` command. Runs the compiled program, bundled in dist/program/, which `npm install`
// builds (the "prepare" script) and `npm start` / `npm test` rebuild from src/.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/program/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(
    'holdfast: the program is not built yet; run "npm install" (or "npm run build") in the Holdfast directory\n',
  );
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv.slice(2));
