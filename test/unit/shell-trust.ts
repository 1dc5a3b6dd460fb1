// Which CA the shell trusts: --ca wins; else known_masters (DFS_HOME) remembers a CA accepted on
// first use; a master presenting another CA is refused loudly; without a terminal and without a
// CA the shell refuses and says to pass --ca. The master's presented CA comes from a fake fetch.

import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { tempDir } from '../helpers/binary';
import { caDigest, createCa, fingerprint } from '../../src/trust/ca';
import type { HostPort } from '../../src/wire/address';
import { knownMastersFile, parseKnownMasters, resolveTrustedCa, trustHome, type TrustOptions } from '../../src/shell/trust';

const caPem = createCa('dfs test CA').certPem;
const otherCaPem = createCa('dfs impostor CA').certPem;
const address: HostPort = { host: '127.0.0.1', port: 7070 };

interface Fakes {
  options: TrustOptions;
  fetched: HostPort[];
  asked: string[];
  notices: string[];
}

function fakes(home: string, presented: string, answer: boolean | undefined, caFile?: string): Fakes {
  const fetched: HostPort[] = [];
  const asked: string[] = [];
  const notices: string[] = [];
  const options: TrustOptions = {
    address,
    caFile,
    home,
    fetchPresentedCa: async (target) => {
      fetched.push(target);
      return presented;
    },
    confirm:
      answer === undefined
        ? undefined
        : async (question) => {
            asked.push(question);
            return answer;
          },
    notice: (text) => notices.push(text),
  };
  return { options, fetched, asked, notices };
}

t.test('trust home: DFS_HOME, else ~/.dfs', async (t) => {
  t.equal(trustHome({ DFS_HOME: '/x' }), '/x');
  t.equal(trustHome({}), path.join(os.homedir(), '.dfs'));
});

t.test('--ca is used as given, without asking or fetching', async (t) => {
  const home = await tempDir(t, 'dfs-trust-');
  const caFile = path.join(home, 'ca.pem');
  await fs.writeFile(caFile, caPem);
  const fake = fakes(home, otherCaPem, true, caFile);
  t.equal(await resolveTrustedCa(fake.options), caPem);
  t.same(fake.fetched, []);
  t.same(fake.asked, []);
  await fs.writeFile(caFile, 'not a certificate');
  await t.rejects(resolveTrustedCa(fake.options), { message: `cannot use CA file ${caFile}: invalid certificate` });
  await t.rejects(resolveTrustedCa({ ...fake.options, caFile: path.join(home, 'nope.pem') }), { message: /^cannot use CA file .*nope\.pem: ENOENT/ });
});

t.test('first use at a terminal: fingerprint shown, yes remembers the CA', async (t) => {
  const home = await tempDir(t, 'dfs-trust-');
  const fake = fakes(home, caPem, true);
  t.equal(await resolveTrustedCa(fake.options), caPem);
  t.same(fake.asked, ['Trust this cluster CA? [y/N] ']);
  t.match(fake.notices[0], `The authenticity of the dfs master 127.0.0.1:7070 can't be established.`);
  t.match(fake.notices[0], fingerprint(caPem));
  const digest = caDigest(caPem);
  t.equal(await fs.readFile(knownMastersFile(home), 'utf8'), `127.0.0.1:7070 ${digest}\n`);
  t.equal(await fs.readFile(path.join(home, 'cas', `${digest}.pem`), 'utf8'), caPem);

  const again = fakes(home, caPem, true);
  t.equal(await resolveTrustedCa(again.options), caPem, 'the next session trusts it without asking');
  t.same(again.asked, []);
});

t.test('first use: no saves nothing and refuses', async (t) => {
  const home = await tempDir(t, 'dfs-trust-');
  const fake = fakes(home, caPem, false);
  await t.rejects(resolveTrustedCa(fake.options), { code: 'UNAUTHENTICATED', message: /^not trusted; nothing was saved/ });
  await t.rejects(fs.stat(knownMastersFile(home)), { code: 'ENOENT' });
});

t.test('no terminal and no CA: refused with what to do, nothing fetched', async (t) => {
  const home = await tempDir(t, 'dfs-trust-');
  const fake = fakes(home, caPem, undefined);
  await t.rejects(resolveTrustedCa(fake.options), {
    code: 'UNAUTHENTICATED',
    message: /^no CA to verify the master 127\.0\.0\.1:7070 with: pass --ca FILE \(or set DFS_CA\); the CA is ca\.pem in the master's data dir/,
  });
  t.same(fake.fetched, []);
});

t.test('a remembered CA works without a terminal', async (t) => {
  const home = await tempDir(t, 'dfs-trust-');
  await resolveTrustedCa(fakes(home, caPem, true).options);
  t.equal(await resolveTrustedCa(fakes(home, caPem, undefined).options), caPem);
});

t.test('a master presenting another CA than remembered is refused loudly', async (t) => {
  const home = await tempDir(t, 'dfs-trust-');
  await resolveTrustedCa(fakes(home, caPem, true).options);
  const impostor = fakes(home, otherCaPem, true);
  const error = await resolveTrustedCa(impostor.options).then(
    () => undefined,
    (reason: unknown) => reason,
  );
  t.match(error, { code: 'UNAUTHENTICATED' });
  const message = (error as Error).message;
  t.match(message, 'WARNING: THE CLUSTER CA OF 127.0.0.1:7070 HAS CHANGED!');
  t.match(message, fingerprint(caPem));
  t.match(message, fingerprint(otherCaPem));
  t.match(message, `remove the line for 127.0.0.1:7070 from ${knownMastersFile(home)}`);
  t.same(impostor.asked, [], 'never offers to trust the new one');
  t.equal((await fs.readFile(knownMastersFile(home), 'utf8')).split('\n').length, 2, 'known_masters unchanged');
});

t.test('a tampered remembered CA file is refused with how to fix it', async (t) => {
  const home = await tempDir(t, 'dfs-trust-');
  await resolveTrustedCa(fakes(home, caPem, true).options);
  await fs.writeFile(path.join(home, 'cas', `${caDigest(caPem)}.pem`), otherCaPem);
  await t.rejects(resolveTrustedCa(fakes(home, caPem, true).options), {
    code: 'UNAUTHENTICATED',
    message: /is unusable: its digest does not match; remove the line for 127\.0\.0\.1:7070/,
  });
});

t.test('known_masters parsing skips comments, blanks and malformed lines', async (t) => {
  const digest = 'a'.repeat(64);
  const text = `# comment\n\n127.0.0.1:7070 ${digest}\nbad-line\nhost:1 nothex\n[::1]:7070 ${'b'.repeat(64)}\nx:1 ${digest} extra\n`;
  t.same([...parseKnownMasters(text)], [
    ['127.0.0.1:7070', digest],
    ['[::1]:7070', 'b'.repeat(64)],
  ]);
});

t.test('addresses are remembered per HOST:PORT', async (t) => {
  const home = await tempDir(t, 'dfs-trust-');
  await resolveTrustedCa(fakes(home, caPem, true).options);
  const other = fakes(home, otherCaPem, true);
  other.options.address = { host: '127.0.0.1', port: 7071 };
  t.equal(await resolveTrustedCa(other.options), otherCaPem, 'another port is another master, asked about anew');
  t.equal(other.asked.length, 1);
});
