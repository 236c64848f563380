import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { tempDir } from '../helpers/backends.ts';

const base = { HOLDFAST_HOSTNAME: 'mail.example.com' };

function configError(env: Record<string, string>, cwd?: string): string {
  try {
    loadConfig({ env: { ...base, ...env }, cwd });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.message;
  }
  assert.fail('configuration was accepted');
}

describe('configuration', () => {
  it('has documented defaults', async () => {
    const cwd = await tempDir();
    const config = loadConfig({ env: base, cwd });
    assert.equal(config.dataDir, join(cwd, 'data'));
    assert.deepEqual(config.database, { kind: 'sqlite', path: join(cwd, 'data', 'holdfast.sqlite') });
    assert.equal(config.domain, 'mail.example.com');
    assert.equal(config.bind, '0.0.0.0');
    assert.deepEqual(config.ports, {
      smtp: 25,
      submission: 587,
      submissions: 465,
      imap: 143,
      imaps: 993,
      pop3: 110,
      pop3s: 995,
      http: 8080,
      https: 443,
      managesieve: 4190,
    });
    assert.equal(config.shutdownGraceMs, 10_000);
    assert.deepEqual(config.caldav, { maxResourceSize: 10_000_000, maxAttendees: 500 });
    assert.equal(config.smtp.maxHeaderSize, 262_144);
    assert.deepEqual(config.smtp.trustedRelays, []);
    assert.deepEqual(config.http, { plaintextLogin: false, trustedProxies: [] });
  });

  it('gives a bare host name a usable first-run domain', async () => {
    const config = loadConfig({ env: { HOLDFAST_HOSTNAME: 'vm' }, cwd: await tempDir() });
    assert.equal(config.domain, 'vm.localdomain');
  });

  it('reads holdfast.toml and lets environment variables override it', async () => {
    const cwd = await tempDir();
    await writeFile(
      join(cwd, 'holdfast.toml'),
      'data_dir = "/srv/holdfast"\ndomain = "example.org"\nshutdown_grace = "30s"\n[ports]\nsmtp = 2525\nimap = "off"\n',
    );
    const config = loadConfig({
      env: { ...base, HOLDFAST_SMTP_PORT: '2526', HOLDFAST_DATABASE_URL: 'postgres://u@db.example/holdfast' },
      cwd,
    });
    assert.equal(config.configFile, join(cwd, 'holdfast.toml'));
    assert.equal(config.dataDir, '/srv/holdfast');
    assert.equal(config.domain, 'example.org');
    assert.equal(config.ports.smtp, 2526);
    assert.equal(config.ports.imap, 'off');
    assert.equal(config.shutdownGraceMs, 30_000);
    assert.deepEqual(config.database, { kind: 'postgres', url: 'postgres://u@db.example/holdfast' });
  });

  it('names the variable, the value and what is allowed', () => {
    assert.equal(
      configError({ HOLDFAST_SMTP_PORT: 'twenty-five' }),
      'HOLDFAST_SMTP_PORT = "twenty-five" is not allowed: expected a port number from 0 to 65535 (0 picks a free port), or "off"',
    );
    assert.match(
      configError({ HOLDFAST_IMAPS_PORT: '70000' }),
      /^HOLDFAST_IMAPS_PORT = "70000" is not allowed: expected a port number/,
    );
    assert.match(
      configError({ HOLDFAST_BIND: 'everywhere' }),
      /^HOLDFAST_BIND = "everywhere" is not allowed: expected an IP address/,
    );
    assert.match(
      configError({ HOLDFAST_DATABASE_URL: 'mysql://x/y' }),
      /^HOLDFAST_DATABASE_URL = "mysql:\/\/x\/y" is not allowed: expected an SQLite file path/,
    );
    assert.match(
      configError({ HOLDFAST_LOG_LEVEL: 'loud' }),
      /^HOLDFAST_LOG_LEVEL = "loud" is not allowed: expected one of "fatal", "error"/,
    );
    assert.match(
      configError({ HOLDFAST_DOMAIN: 'not a domain' }),
      /^HOLDFAST_DOMAIN = "not a domain" is not allowed: expected a domain name/,
    );
  });

  it('names the file key for errors in holdfast.toml, and unknown keys', async () => {
    const cwd = await tempDir();
    await writeFile(join(cwd, 'holdfast.toml'), '[ports]\nhttp = -1\n');
    assert.equal(
      configError({}, cwd),
      `${join(cwd, 'holdfast.toml')}: ports.http = -1 is not allowed: expected a port number from 0 to 65535 (0 picks a free port), or "off"`,
    );
    await writeFile(join(cwd, 'holdfast.toml'), '[ports]\nsmpt = 25\n');
    assert.match(configError({}, cwd), /unknown key "smpt" in \[ports\]/);
    await writeFile(join(cwd, 'holdfast.toml'), 'ports = [\n');
    assert.match(configError({}, cwd), /holdfast\.toml: not valid TOML/);
  });

  it('refuses one port for two listeners, naming both settings', async () => {
    assert.equal(
      configError({ HOLDFAST_IMAP_PORT: '2510', HOLDFAST_POP3_PORT: '2510' }),
      'HOLDFAST_POP3_PORT = 2510 is not allowed: HOLDFAST_IMAP_PORT is 2510 too; each listener needs a port of its own (or "off")',
    );
    assert.equal(
      configError({ HOLDFAST_IMAP_PORT: '25' }),
      'HOLDFAST_IMAP_PORT = 25 is not allowed: HOLDFAST_SMTP_PORT (by default) is 25 too; each listener needs a port of its own (or "off")',
    );
    const cwd = await tempDir();
    await writeFile(join(cwd, 'holdfast.toml'), '[ports]\nhttp = 8443\nhttps = 8443\n');
    assert.match(
      configError({}, cwd),
      /holdfast\.toml: ports\.https = 8443 is not allowed: .*holdfast\.toml: ports\.http is 8443 too/,
    );
    // 0 (a free port each) and "off" are no conflict.
    loadConfig({
      env: {
        ...base,
        HOLDFAST_IMAP_PORT: '0',
        HOLDFAST_POP3_PORT: '0',
        HOLDFAST_SMTP_PORT: 'off',
        HOLDFAST_SUBMISSION_PORT: 'off',
      },
    });
  });

  it('refuses a section given as a value, also when an environment variable sets a key in it', async () => {
    const cwd = await tempDir();
    const file = join(cwd, 'holdfast.toml');
    await writeFile(file, 'ports = 5\n');
    const refusal = `${file}: ports = 5 is not allowed: expected a table ([ports])`;
    assert.equal(configError({}, cwd), refusal);
    // The variable's key is in [ports]: the file's 5 was replaced by a table before, and never seen.
    assert.equal(configError({ HOLDFAST_IMAP_PORT: '1143' }, cwd), refusal);
    await writeFile(file, 'health = true\n');
    assert.equal(configError({}, cwd), `${file}: health = true is not allowed: expected a table ([health])`);
  });

  it('checks the [health] section key by key', async () => {
    const cwd = await tempDir();
    const file = join(cwd, 'holdfast.toml');
    await writeFile(file, '[health]\nprobe_interval = "soon"\n');
    assert.equal(
      configError({}, cwd),
      `${file}: health.probe_interval = "soon" is not allowed: expected a duration such as "500ms", "30s", "5m", "4h" or "2d"`,
    );
    await writeFile(file, '[health]\nalert_to = ["ops"]\n');
    assert.match(
      configError({}, cwd),
      /health\.alert_to = \["ops"\] is not allowed: expected a list of email addresses/,
    );
    await writeFile(file, '[[health.webhook]]\nurl = "ftp://x"\nsecret = "s"\n');
    assert.match(
      configError({}, cwd),
      /health\.webhook\.0\.url = "ftp:\/\/x" is not allowed: expected an "http:\/\/" or "https:\/\/" URL/,
    );
    assert.match(
      configError({ HOLDFAST_HEALTH: 'maybe' }, cwd),
      /^HOLDFAST_HEALTH = "maybe" is not allowed: expected true or false/,
    );
  });

  it('reads the trusted relays, header size and attendee cap, naming what is wrong', async () => {
    const cwd = await tempDir();
    const file = join(cwd, 'holdfast.toml');
    await writeFile(
      file,
      '[smtp]\ntrusted_relays = ["192.0.2.10", "198.51.100.0/24", "2001:db8::/32"]\nmax_header_size = "64KiB"\n[caldav]\nmax_attendees = 100\n',
    );
    const config = loadConfig({ env: base, cwd });
    assert.deepEqual(config.smtp.trustedRelays, ['192.0.2.10', '198.51.100.0/24', '2001:db8::/32']);
    assert.equal(config.smtp.maxHeaderSize, 65_536);
    assert.equal(config.caldav.maxAttendees, 100);
    await writeFile(file, '[smtp]\ntrusted_relays = ["192.0.2.10", "198.51.100.0/33"]\n');
    assert.equal(
      configError({}, cwd),
      `${file}: smtp.trusted_relays = ["192.0.2.10","198.51.100.0/33"] is not allowed: expected a list of IP addresses or CIDR ranges such as ["192.0.2.10", "198.51.100.0/24", "2001:db8::/32"]`,
    );
    await writeFile(file, '[smtp]\ntrusted_relays = "192.0.2.10"\n');
    assert.match(
      configError({}, cwd),
      /smtp\.trusted_relays = "192\.0\.2\.10" is not allowed: expected a list of IP addresses/,
    );
    await writeFile(file, '[caldav]\nmax_attendees = 0\n');
    assert.equal(
      configError({}, cwd),
      `${file}: caldav.max_attendees = 0 is not allowed: expected a whole number greater than 0`,
    );
  });

  it('refuses a missing HOLDFAST_CONFIG file and half a TLS pair', async () => {
    const cwd = await tempDir();
    assert.equal(
      configError({ HOLDFAST_CONFIG: 'nowhere.toml' }, cwd),
      'HOLDFAST_CONFIG = "nowhere.toml": no such file',
    );
    assert.match(
      configError({ HOLDFAST_TLS_CERT: '/etc/hostname' }, cwd),
      /^HOLDFAST_TLS_KEY is not set: a TLS certificate and key must be configured together/,
    );
    assert.match(
      configError({ HOLDFAST_TLS_CERT: '/nope.crt', HOLDFAST_TLS_KEY: '/nope.key' }, cwd),
      /^HOLDFAST_TLS_CERT = "\/nope\.crt" is not allowed: no such file/,
    );
  });
});
