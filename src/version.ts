// The running version, read once from package.json.
import { readFileSync } from 'node:fs';
import { inInstallation } from './installation-root.ts';

export const version: string = JSON.parse(readFileSync(inInstallation('package.json'), 'utf8')).version;
