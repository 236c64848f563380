// CardDAV with the tools people use from a terminal (Debian's packages): vdirsyncer syncs the
// address books into a folder of .vcf files both ways, and khard reads and writes them. A contact
// made with khard reaches the server; one changed on the server reaches khard; the directory comes
// down read-only. Skipped where the tools are not installed (`apt-get install vdirsyncer khard`).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { backendNames, skipFor, tempDir } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const run = promisify(execFile);
const password = 'Wonderland-42';
const missingTools = ['/usr/bin/vdirsyncer', '/usr/bin/khard'].filter((tool) => !existsSync(tool));
const toolSkip = missingTools.length
  ? `${missingTools.join(' and ')} not installed (apt-get install vdirsyncer khard)`
  : false;

for (const name of backendNames) {
  describe(`vdirsyncer and khard on ${name}`, { skip: skipFor(name) || toolSkip }, () => {
    let t: TestNode;
    let dir: string;
    let base: string;
    const auth = { Authorization: `Basic ${Buffer.from(`alice@test.example:${password}`).toString('base64')}` };

    const vdirsyncer = (...args: string[]) =>
      new Promise<string>((resolve, reject) => {
        const child = execFile(
          'vdirsyncer',
          ['-c', join(dir, 'vdirsyncer.conf'), ...args],
          { timeout: 60_000 },
          (error, stdout, stderr) =>
            error
              ? reject(new Error(`vdirsyncer ${args.join(' ')}: ${error.message}\n${stdout}\n${stderr}`))
              : resolve(stdout + stderr),
        );
        // discover asks before creating each local folder.
        child.stdin?.end('y\ny\ny\ny\n');
      });
    const khard = async (...args: string[]) =>
      (await run('khard', ['-c', join(dir, 'khard.conf'), ...args], { timeout: 30_000 })).stdout;

    before(async () => {
      t = await startTestNode(name);
      base = `http://127.0.0.1:${t.port('http')}`;
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({
        kind: 'user',
        address: 'alice@test.example',
        password,
        displayName: 'Alice Liddell',
      });
      await tenant.addPrincipal({ kind: 'user', address: 'bob@test.example', password, displayName: 'Bob Dodgson' });
      await tenant.addPrincipal({ kind: 'room', address: 'boardroom@test.example', displayName: 'Board room' });
      dir = await tempDir('holdfast-vdirsyncer-');
      await mkdir(join(dir, 'cards'));
      await writeFile(
        join(dir, 'vdirsyncer.conf'),
        [
          '[general]',
          `status_path = "${join(dir, 'status')}/"`,
          '',
          '[pair contacts]',
          'a = "local"',
          'b = "holdfast"',
          'collections = ["from b"]',
          'conflict_resolution = "b wins"',
          '',
          '[storage local]',
          'type = "filesystem"',
          `path = "${join(dir, 'cards')}/"`,
          'fileext = ".vcf"',
          '',
          '[storage holdfast]',
          'type = "carddav"',
          `url = "${base}/"`,
          'username = "alice@test.example"',
          `password = "${password}"`,
          '',
        ].join('\n'),
      );
      await writeFile(
        join(dir, 'khard.conf'),
        [
          '[addressbooks]',
          '[[contacts]]',
          `path = ${join(dir, 'cards', 'contacts')}`,
          '[[directory]]',
          `path = ${join(dir, 'cards', 'directory')}`,
          '',
          '[general]',
          'debug = no',
          'default_action = list',
          'editor = /bin/false',
          'merge_editor = /bin/false',
          '',
          '[contact table]',
          'display = formatted_name',
          'preferred_email_address_type = pref, work, home',
          '',
          '[vcard]',
          'preferred_version = 3.0',
          '',
        ].join('\n'),
      );
    });
    after(async () => {
      await t.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it('discovers the address books, brings the directory down, and syncs both ways', async () => {
      await vdirsyncer('discover', 'contacts');
      await vdirsyncer('sync');
      assert.deepEqual((await readdir(join(dir, 'cards'))).sort(), ['contacts', 'directory']);

      // khard finds colleagues in the directory by name and address.
      const emails = await khard('email', '--parsable', '-a', 'directory', 'liddell');
      assert.match(emails, /alice@test\.example\tAlice Liddell/);
      assert.match(await khard('list', '--parsable', '-a', 'directory'), /Board room/);

      // A contact made with khard reaches the server.
      const yaml = join(dir, 'dodo.yaml');
      await writeFile(
        yaml,
        'Formatted name : Dodo Bird\nFirst name : Dodo\nLast name : Bird\nEmail :\n    work : dodo@caucus.example\n',
      );
      await khard('new', '-a', 'contacts', '--input-file', yaml);
      await writeFile(yaml, 'First name : Mock\nLast name : Turtle\nEmail :\n    home : turtle@sea.example\n');
      await khard('new', '-a', 'contacts', '--input-file', yaml);
      await vdirsyncer('sync');
      const query = await fetch(`${base}/dav/addressbooks/alice@test.example/contacts/`, {
        method: 'REPORT',
        headers: { ...auth, Depth: '1' },
        body: '<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><C:address-data/></D:prop><C:filter><C:prop-filter name="EMAIL"><C:text-match>caucus</C:text-match></C:prop-filter></C:filter></C:addressbook-query>',
      });
      const found = await query.text();
      assert.match(found, /FN:Dodo Bird/);
      const href = /<D:href>([^<]+\.vcf)<\/D:href>/.exec(found)![1]!;

      // A change made on the server (another client) reaches khard.
      const current = await fetch(`${base}${href}`, { headers: auth });
      const etag = current.headers.get('etag')!;
      const renamed = (await current.text()).replace(/FN:Dodo Bird/, 'FN:Dodo the Bird');
      const put = await fetch(`${base}${href}`, {
        method: 'PUT',
        body: renamed,
        headers: { ...auth, 'Content-Type': 'text/vcard', 'If-Match': etag },
      });
      assert.equal(put.status, 204);
      await vdirsyncer('sync');
      assert.match(await khard('list', '--parsable', '-a', 'contacts'), /Dodo the Bird/);

      // Deleted with khard, deleted on the server (vdirsyncer refuses to empty a whole side, so the
      // Mock Turtle stays).
      await khard('remove', '--force', '-a', 'contacts', 'Dodo');
      await vdirsyncer('sync');
      assert.equal((await fetch(`${base}${href}`, { headers: auth })).status, 404);
      assert.match(await khard('list', '--parsable', '-a', 'contacts'), /Mock Turtle/);

      // The directory cannot be changed: a card edited locally is refused by the server.
      const directoryFiles = await readdir(join(dir, 'cards', 'directory'));
      const bobFile = join(dir, 'cards', 'directory', directoryFiles.find((f) => f.endsWith('.vcf'))!);
      await writeFile(bobFile, (await readFile(bobFile, 'utf8')).replace(/\r\nFN:[^\r]*/, '\r\nFN:Someone else'));
      await assert.rejects(vdirsyncer('sync'), /403|Forbidden/);
    });
  });
}
