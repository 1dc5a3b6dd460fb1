#!/usr/bin/env node
// The ends of the bare-Node references bench/peers.ts measures beside dfs and MooseFS: the most a put or a get can
// reach here with TLS and SHA-256, and nothing else (no login, no framing, no catalog, no second process to ask).
//
//   node bench/reference-tls.mjs send CA PORT FILE        sends FILE to a chain of bench/reference-hop.mjs hashing it
//                                                       with SHA-256, waits for the chain's "k"
//   node bench/reference-tls.mjs serve KEY CERT CA FILE   prints "listening on PORT", sends FILE to each connection
//   node bench/reference-tls.mjs fetch CA PORT [ALG]      reads it all, prints its SHA-256 (ALG sha256, the default),
//                                                       its CRC-32 (crc32) or nothing (none): what checking costs

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';
import zlib from 'node:zlib';

const CHUNK = 1024 * 1024;
const [mode, ...args] = process.argv.slice(2);

if (mode === 'serve') {
  const [keyFile, certFile, caFile, file] = args;
  const options = { key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile), ca: fs.readFileSync(caFile) };
  const server = tls.createServer({ ...options, highWaterMark: CHUNK }, (socket) => {
    socket.on('error', () => socket.destroy());
    fs.createReadStream(file, { highWaterMark: CHUNK }).pipe(socket);
  });
  server.listen(0, '127.0.0.1', () => console.log(`listening on ${server.address().port}`));
  process.on('SIGTERM', () => process.exit(0));
} else if (mode === 'send') {
  const [caFile, port, file] = args;
  const hash = createHash('sha256');
  const socket = tls.connect({ host: '127.0.0.1', port: Number(port), ca: fs.readFileSync(caFile), checkServerIdentity: () => undefined, highWaterMark: CHUNK });
  socket.once('secureConnect', () => {
    const source = fs.createReadStream(file, { highWaterMark: CHUNK });
    source.on('data', (chunk) => hash.update(chunk));
    source.pipe(socket);
  });
  socket.once('data', () => {
    console.log(hash.digest('hex'));
    socket.destroy();
  });
} else if (mode === 'fetch') {
  const [caFile, port, algorithm = 'sha256'] = args;
  const hash = algorithm === 'sha256'
    ? createHash('sha256')
    : { value: 0, update(chunk) { if (algorithm === 'crc32') this.value = zlib.crc32(chunk, this.value); }, digest() { return String(this.value); } };
  const socket = tls.connect({ host: '127.0.0.1', port: Number(port), ca: fs.readFileSync(caFile), checkServerIdentity: () => undefined, highWaterMark: CHUNK });
  socket.on('data', (chunk) => hash.update(chunk));
  socket.on('end', () => console.log(hash.digest('hex')));
} else {
  console.error('usage: reference-tls.mjs send CA PORT FILE | serve KEY CERT CA FILE | fetch CA PORT [sha256|crc32|none]');
  process.exit(2);
}
