// The configuration file is looked for in one fixed order: HOLDFAST_CONFIG, ./holdfast.toml, then
// the system-wide file.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configFileCandidates, loadConfig, systemConfigFile } from '../../src/config/load.ts';
import { tempDir } from '../helpers/backends.ts';

const env = { HOLDFAST_HOSTNAME: 'mail.example.com' };

describe('configuration file order', () => {
  it('reads HOLDFAST_CONFIG, else ./holdfast.toml, else the system file', async () => {
    const [cwd, etc] = [await tempDir(), await tempDir()];
    const systemFile = join(etc, 'holdfast.toml');
    await writeFile(systemFile, 'data_dir = "/var/lib/holdfast"\n');
    assert.equal(loadConfig({ env, cwd, systemConfigFile: systemFile }).dataDir, '/var/lib/holdfast');
    assert.equal(loadConfig({ env, cwd, systemConfigFile: systemFile }).configFile, systemFile);

    await writeFile(join(cwd, 'holdfast.toml'), 'data_dir = "/srv/local"\n');
    assert.equal(loadConfig({ env, cwd, systemConfigFile: systemFile }).dataDir, '/srv/local');

    await writeFile(join(cwd, 'other.toml'), 'data_dir = "/srv/other"\n');
    assert.equal(
      loadConfig({ env: { ...env, HOLDFAST_CONFIG: 'other.toml' }, cwd, systemConfigFile: systemFile }).dataDir,
      '/srv/other',
    );
  });

  it('lists the places it looks, the system file being /etc/holdfast/holdfast.toml', () => {
    assert.equal(systemConfigFile, '/etc/holdfast/holdfast.toml');
    assert.deepEqual(configFileCandidates({}, '/home/you'), ['/home/you/holdfast.toml', '/etc/holdfast/holdfast.toml']);
    assert.deepEqual(configFileCandidates({ HOLDFAST_CONFIG: 'conf/h.toml' }, '/home/you'), ['/home/you/conf/h.toml']);
  });
});
