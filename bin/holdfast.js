#!/usr/bin/env node
// The `holdfast` command. Runs the TypeScript sources directly through tsx, so `npm install`
// leaves the program ready to run without a separate build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
await main(process.argv.slice(2));
