// The foundation through the built executable: roles start, nodes join with the token and keep
// their identity across restarts, and hostile input on any port leaves every process serving.

import t from 'tap';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { createCa, issueServerIdentity } from '../../src/trust/ca';
import { encodeFrame } from '../../src/wire/frame';
import { DFS, runDfs, startCluster, startDfs, tempDir, waitFor, type DfsProcess } from '../helpers/binary';

async function ping(cluster: { client(): Promise<import('../../src/wire/channel').Channel> }): Promise<string> {
  const channel = await cluster.client();
  const { data } = await channel.request('ping', {});
  channel.close();
  return data.role;
}

/** Sends bytes over plain TCP and resolves when the server closes the connection. */
function sendRaw(address: { host: string; port: number }, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(address.port, address.host, () => socket.write(bytes));
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    socket.resume();
  });
}

/**
 * Opens TLS (trusting the cluster CA, optionally with a client cert), writes bytes, and resolves with
 * the first whole frame the server answers, or whatever arrived when the server closed.
 */
function sendOverTls(address: { host: string; port: number }, caPem: string, bytes: Buffer, client?: { key: string; cert: string }, end = false): Promise<string> {
  return new Promise((resolve) => {
    let answer = Buffer.alloc(0);
    const socket = tls.connect({ host: address.host, port: address.port, ca: caPem, checkServerIdentity: () => undefined, ...client }, () => {
      socket.write(bytes);
      if (end) socket.end();
    });
    socket.on('data', (chunk: Buffer) => {
      answer = Buffer.concat([answer, chunk]);
      if (answer.length >= 16 && answer.length >= 16 + answer.readUInt32BE(4)) {
        socket.destroy();
        resolve(answer.toString('latin1'));
      }
    });
    socket.on('error', (error) => resolve(`${answer.toString('latin1')}\nerror: ${error.message}`));
    socket.on('close', () => resolve(answer.toString('latin1')));
  });
}

async function nodeIds(cluster: { client(): Promise<import('../../src/wire/channel').Channel> }): Promise<string[]> {
  const channel = await cluster.client();
  const { data } = await channel.request('cluster.nodes', {});
  channel.close();
  return data.nodes.filter((node) => node.connected).map((node) => node.nodeId).sort();
}

t.test('the executable prints its version and every role\'s flags', async (t) => {
  const version = await runDfs(['--version']);
  t.equal(version.code, 0);
  t.match(version.stdout, /0\.1\.0/);
  for (const [role, flags] of Object.entries({
    master: ['--data', '--listen', '--advertise', '--replicas', '--node-timeout'],
    node: ['--master', '--token', '--token-file', '--data', '--listen', '--advertise', '--capacity'],
    demo: ['--nodes', '--data'],
  })) {
    const help = await runDfs([role, '--help']);
    t.equal(help.code, 0, `${role} --help exits 0`);
    for (const flag of flags) t.match(help.stdout, flag, `${role} --help lists ${flag}`);
  }
  const unknown = await runDfs(['frobnicate']);
  t.equal(unknown.code, 2, 'an unknown command is a usage error');
  t.match(unknown.stderr, /unknown command/);
  const missing = await runDfs(['master']);
  t.equal(missing.code, 2, 'a missing --data is a usage error');
  t.match(missing.stderr, /--data is required \(or DFS_DATA/);
});

t.test('dfs completion bash|zsh prints a script that completes roles, flags, their values and shell commands', async (t) => {
  const complete = (script: string, words: string[]): string =>
    `${script}\nCOMP_WORDS=(${words.map((word) => `'${word}'`).join(' ')}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _dfs; echo "\${COMPREPLY[*]}"`;
  const bash = await runDfs(['completion', 'bash']);
  t.equal(bash.code, 0);
  const cases: [string[], string][] = [
    [['dfs', 'sh'], 'shell'],
    [['dfs', 'node', '--sc'], '--scrub-rate --scrub-interval'],
    [['dfs', 'master', '--log-level', 'w'], 'warn'],
    [['dfs', 'shell', '-c', 'pu'], 'put'],
    [['dfs', 'completion', ''], 'bash zsh'],
  ];
  for (const [words, expected] of cases) {
    const run = await runDfs(['-c', complete(bash.stdout, words)], { command: 'bash' });
    t.equal(run.stdout.trim(), expected, `${words.join(' ')}<Tab> → ${expected}`);
  }
  const zsh = await runDfs(['completion', 'zsh']);
  t.match(zsh.stdout, /bashcompinit[\s\S]*complete -o default -F _dfs dfs/, 'zsh: the same function through bashcompinit');
  const fish = await runDfs(['completion', 'fish']);
  t.same([fish.code, fish.stderr.split('\n')[0]], [2, 'dfs: completion: no script for "fish" (bash or zsh)']);
});

t.test('settings: a flag beats the environment, which beats the --config file; every role has --version; nonsense is a usage error', async (t) => {
  for (const args of [['version'], ['master', '--version'], ['node', '--version'], ['shell', '--version']]) {
    const run = await runDfs(args);
    t.same([run.code, run.stdout.trim()], [0, `dfs/0.1.0 linux-x64 node-${process.version}`], `dfs ${args.join(' ')}`);
  }
  const dir = await tempDir(t);
  const config = path.join(dir, 'master.conf');
  await fs.writeFile(config, `# the master's settings\ndata = "${path.join(dir, 'from-file')}"\nlisten = 127.0.0.1:0\n\nreplicas = 2\nnode-timeout=40\n`);
  const fromFile = await startDfs(t, ['master', '--config', config], { env: { DFS_ADMIN_PASSWORD: 'admin-secret' } });
  t.match(fromFile.output().stderr, /serving \d+ entries with replicas=2/, 'replicas from the file');
  t.ok(await fs.stat(path.join(dir, 'from-file', 'ca.pem')), 'and the data directory');
  fromFile.child.kill('SIGTERM');
  await fromFile.exited;
  const fromEnv = await startDfs(t, ['master'], { env: { DFS_CONFIG: config, DFS_REPLICAS: '1', DFS_DATA: path.join(dir, 'from-env'), DFS_ADMIN_PASSWORD: 'admin-secret' } });
  t.match(fromEnv.output().stderr, /serving \d+ entries with replicas=1/, 'the environment beats the file');
  t.ok(await fs.stat(path.join(dir, 'from-env', 'ca.pem')), 'for the data directory too');
  fromEnv.child.kill('SIGTERM');
  await fromEnv.exited;
  const fromFlag = await startDfs(t, ['master', '--replicas', '3', '--data', path.join(dir, 'from-env'), '--log-format', 'json'], { env: { DFS_CONFIG: config, DFS_REPLICAS: '1' } });
  const lines = fromFlag.output().stderr.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  t.ok(lines.every((line) => Object.keys(line).join() === 'time,role,level,message' && line.role === 'master'), '--log-format json: one object per line');
  t.ok(lines.some((line) => /^master \S+ serving \d+ entries with replicas=3$/.test(String(line.message))), 'a flag beats both');
  fromFlag.child.kill('SIGTERM');
  await fromFlag.exited;
  const quiet = await runDfs(['master', '--log-level', 'loud', '--data', path.join(dir, 'quiet')]);
  t.same([quiet.code, quiet.stderr.split('\n')[0]], [2, 'dfs: --log-level must be one of debug, info, warn, error, got "loud"'], 'an unknown log level is a usage error');

  await fs.writeFile(config, 'listen = 127.0.0.1:0\nreplica = 2\n');
  const typo = await runDfs(['master', '--config', config, '--data', path.join(dir, 'typo')]);
  t.equal(typo.code, 2, 'an unknown setting in the file is a usage error');
  t.match(typo.stderr, `${config}:2: unknown setting "replica"`, 'naming the file and line');
  const capacity = await runDfs(['node', '--master', '127.0.0.1:1', '--token', 'x', '--data', path.join(dir, 'zero'), '--capacity', '0']);
  t.same([capacity.code, capacity.stderr.split('\n')[0]], [2, 'dfs: --capacity must be more than 0 (leave it out to offer the whole disk)'], '--capacity 0 is a usage error');
  for (const role of [['master'], ['node', '--master', '127.0.0.1:1', '--token', 'x']]) {
    const proc = await runDfs([...role, '--data', '/proc/nope', '--listen', '127.0.0.1:0'], { timeoutMs: 10_000 });
    t.same([proc.code, proc.stderr.split(' (')[0]], [1, 'dfs: cannot use /proc/nope as a data directory: it cannot be created there'], `${role[0]} --data /proc/nope exits 1 at once, saying why`);
  }
  t.same((await fs.readdir(dir)).sort(), ['from-env', 'from-file', 'master.conf'], 'the failed starts made nothing');
});

t.test('a start that fails because the port is taken changes nothing on disk and joins nothing', async (t) => {
  const cluster = await startCluster(t, 1);
  const taken = `127.0.0.1:${cluster.nodes[0]?.address.port ?? 0}`;
  const dir = await tempDir(t);
  const master = await runDfs(['master', '--data', path.join(dir, 'master'), '--listen', taken], { env: { ...process.env, DFS_ADMIN_PASSWORD: 'admin-secret' } });
  t.equal(master.code, 1, 'the master fails');
  t.match(master.stderr, /EADDRINUSE.*another program has that port/, 'saying the port is taken');
  const node = await runDfs(['node', '--master', `127.0.0.1:${cluster.master.address.port}`, '--token-file', cluster.tokenFile, '--data', path.join(dir, 'node'), '--listen', taken]);
  t.equal(node.code, 1, 'so does a node');
  t.match(node.stderr, /EADDRINUSE/);
  t.same(await fs.readdir(dir), [], 'neither created its data directory (no CA, no keys, no admin password)');
  t.equal((await nodeIds(cluster)).length, 1, 'and the node did not join');
  t.equal(cluster.master.output().stderr.match(/ joined from /g)?.length, 1, 'the master saw one join only: the first node\'s');
});

t.test('the executable runs from an empty folder without Node.js on the PATH', async (t) => {
  const dir = await tempDir(t);
  const copy = path.join(dir, 'dfs');
  await fs.copyFile(DFS, copy);
  await fs.chmod(copy, 0o755);
  const result = await runDfs(['--version'], { command: copy, cwd: dir, env: { PATH: '/nonexistent' } });
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /0\.1\.0/);
});

t.test('master and two nodes: nodes join, a restarted node keeps its identity', async (t) => {
  const cluster = await startCluster(t, 2);
  const before = await nodeIds(cluster);
  t.equal(before.length, 2, 'both nodes registered');
  t.ok(before.every((id) => /^n-[0-9a-f]{8}$/.test(id)), 'node ids are issued by the master');
  for (const file of ['ca-key.pem', 'ca.pem', 'join-token']) {
    const stat = await fs.stat(path.join(cluster.masterDir, file));
    t.equal(stat.mode & 0o777, 0o600, `${file} is private`);
  }

  const node = cluster.nodes[0] as DfsProcess;
  node.child.kill('SIGTERM');
  const exit = await node.exited;
  t.equal(exit.code, 0, 'SIGTERM stops a node cleanly');
  // Restart with no token at all: the identity in its data dir is enough.
  const restarted = await startDfs(t, ['node', '--master', `127.0.0.1:${cluster.master.address.port}`, '--data', path.join(cluster.dataDir, 'node1'), '--listen', '127.0.0.1:0']);
  await waitFor('the node to re-register', async () => ((await nodeIds(cluster)).length === 2 ? true : undefined));
  t.same(await nodeIds(cluster), before, 'the same two identities, no new join');
  t.notMatch(restarted.output().stderr, /joined the cluster/, 'no second join');

  cluster.master.child.kill('SIGTERM');
  t.equal((await cluster.master.exited).code, 0, 'SIGTERM stops the master cleanly');
});

t.test('a node rejoins by itself after the master restarts', async (t) => {
  const cluster = await startCluster(t, 1);
  const before = await nodeIds(cluster);
  cluster.master.child.kill('SIGKILL');
  await cluster.master.exited;
  const master = await startDfs(t, ['master', '--data', cluster.masterDir, '--listen', `127.0.0.1:${cluster.master.address.port}`]);
  t.notMatch(master.output().stderr, /created cluster CA/, 'the CA is reused');
  await waitFor('the node to reconnect', async () => ((await nodeIds(cluster)).length === 1 ? true : undefined));
  t.same(await nodeIds(cluster), before);
});

t.test('a forged, malformed or empty join token gets nothing', async (t) => {
  const cluster = await startCluster(t, 0);
  const token = (await fs.readFile(cluster.tokenFile, 'utf8')).trim();
  const [prefix, digest] = token.split('.');
  const cases = {
    forged: `${prefix}.${digest}.${'A'.repeat(43)}`,
    malformed: 'not-a-token',
    empty: '',
    'wrong CA digest': `${prefix}.${'0'.repeat(64)}.${token.split('.')[2]}`,
  };
  for (const [name, value] of Object.entries(cases)) {
    const dataDir = path.join(cluster.dataDir, `intruder-${name.replace(/\W/g, '')}`);
    const result = await runDfs(['node', '--master', `127.0.0.1:${cluster.master.address.port}`, '--token', value, '--data', dataDir, '--listen', '127.0.0.1:0']);
    t.not(result.code, 0, `${name} token: the node exits with an error`);
    t.match(result.stderr, /token|required/i, `${name} token: the error says what is wrong`);
    const files: string[] = await fs.readdir(dataDir).catch(() => []);
    t.notOk(files.includes('node-identity.json'), `${name} token: no identity was issued`);
  }
  t.same(await nodeIds(cluster), [], 'no node joined');
  t.equal(await ping(cluster), 'master', 'the master still serves');
});

t.test('garbage on the master\'s and a node\'s port leaves both serving', async (t) => {
  const cluster = await startCluster(t, 1);
  const master = cluster.master.address;
  const node = (cluster.nodes[0] as DfsProcess).address;
  const random = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256));

  await sendRaw(master, random);
  await sendRaw(master, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  await sendRaw(node, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));

  const huge = Buffer.alloc(16);
  huge.writeUInt16BE(0x4446, 0);
  huge.writeUInt8(1, 2);
  huge.writeUInt32BE(0xffffffff, 4);
  t.match(await sendOverTls(master, cluster.caPem, huge), /BAD_FRAME.*exceeds/, 'a 4 GiB frame is refused with a reason');
  t.equal(await sendOverTls(master, cluster.caPem, huge.subarray(0, 9), undefined, true), '', 'a truncated frame ends with the connection');
  t.match(await sendOverTls(master, cluster.caPem, random), /bad magic/, 'random bytes over TLS are refused with a reason');
  const unknown = encodeFrame(Buffer.from(JSON.stringify({ k: 'q', id: 1, t: 'format.disk', d: {} })));
  t.match(await sendOverTls(master, cluster.caPem, unknown), /BAD_REQUEST.*unknown message type/, 'an unknown message type gets a clear error');

  // Nodes let ticket holders in without a certificate (blob.put/blob.get), and nothing else.
  const delete_ = encodeFrame(Buffer.from(JSON.stringify({ k: 'q', id: 1, t: 'node.blob.delete', d: { blobIds: [] } })));
  t.match(await sendOverTls(node, cluster.caPem, delete_), /UNAUTHENTICATED.*only the master/, 'a node refuses cluster messages from a client without a certificate');
  const stranger = createCa('someone else');
  const strangerCert = issueServerIdentity(stranger, { commonName: 'node:n-00000000', hosts: ['127.0.0.1'] });
  const refused = await sendOverTls(node, cluster.caPem, encodeFrame(Buffer.from('{}')), { key: strangerCert.keyPem, cert: strangerCert.certPem });
  t.match(refused, /UNAUTHENTICATED|not signed|error/, 'a node refuses a certificate from another CA');
  await waitFor('the refusal in the node\'s log', async () => (/node warn connection from 127\.0\.0\.1:\d+ refused: its certificate is not signed by this cluster's CA/.test((cluster.nodes[0] as DfsProcess).output().stderr) ? true : undefined));
  t.pass('and logs it');

  t.equal(await ping(cluster), 'master', 'the master still serves');
  t.equal((await nodeIds(cluster)).length, 1, 'the node is still registered');
  t.equal(cluster.master.child.exitCode, null, 'the master process is alive');
  t.equal((cluster.nodes[0] as DfsProcess).child.exitCode, null, 'the node process is alive');
});

t.test('a second master or node on the same data dir refuses to start', async (t) => {
  const cluster = await startCluster(t, 1);
  const master = await runDfs(['master', '--data', cluster.masterDir, '--listen', '127.0.0.1:0']);
  t.equal(master.code, 1, 'the second master exits with an error');
  t.match(master.stderr, /another dfs master \(pid \d+\) is using/);
  const node = await runDfs(['node', '--master', `127.0.0.1:${cluster.master.address.port}`, '--data', path.join(cluster.dataDir, 'node1'), '--listen', '127.0.0.1:0']);
  t.equal(node.code, 1, 'the second node exits with an error');
  t.match(node.stderr, /another dfs node \(pid \d+\) is using/);
  t.equal(await ping(cluster), 'master', 'the first master still serves');
});
