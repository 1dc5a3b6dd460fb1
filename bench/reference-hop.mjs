#!/usr/bin/env node
// The bare-Node reference for the data path: one TLS hop that writes what it receives to a file
// (fsync at the end) and, given a next hop, forwards the bytes as they arrive. A chain of these is
// the best a pipelined file→A→B→C replication can do here; dfs is measured against it.
//
//   node bench/reference-hop.mjs KEY CERT CA OUTFILE [NEXT_PORT]
// prints "listening on PORT"; for each connection it answers one byte "k" once its own file is
// fsynced and the next hop (if any) has answered. With REFERENCE_SHA256=1 in its environment a hop also hashes what
// it receives with SHA-256, as a dfs node does.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';

const CHUNK = 1024 * 1024;
const [keyFile, certFile, caFile, outFile, nextPort] = process.argv.slice(2);
const options = { key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile), ca: fs.readFileSync(caFile) };

// Half-open: the sender ends its side at EOF and still waits for our "k".
const server = tls.createServer({ ...options, allowHalfOpen: true, highWaterMark: CHUNK }, (socket) => {
  const file = fs.createWriteStream(outFile, { highWaterMark: CHUNK, autoClose: false });
  const hash = process.env.REFERENCE_SHA256 === '1' ? createHash('sha256') : undefined;
  const next = nextPort
    ? tls.connect({ ...options, host: '127.0.0.1', port: Number(nextPort), checkServerIdentity: () => undefined })
    : undefined;
  let nextDone = next === undefined;
  let fileDone = false;
  const finish = () => {
    if (nextDone && fileDone) socket.end('k');
  };
  next?.on('data', () => {
    nextDone = true;
    finish();
  });
  socket.on('data', (chunk) => {
    hash?.update(chunk);
    const fileOk = file.write(chunk);
    const nextOk = next ? next.write(chunk) : true;
    if (!fileOk || !nextOk) {
      socket.pause();
      let waiting = (fileOk ? 0 : 1) + (nextOk ? 0 : 1);
      const resume = () => {
        waiting -= 1;
        if (waiting === 0) socket.resume();
      };
      if (!fileOk) file.once('drain', resume);
      if (!nextOk) next.once('drain', resume);
    }
  });
  socket.on('end', () => {
    hash?.digest();
    next?.end();
    file.end(() => {
      fs.fsync(file.fd, () => {
        fs.close(file.fd, () => undefined);
        fileDone = true;
        finish();
      });
    });
  });
});
server.listen(0, '127.0.0.1', () => console.log(`listening on ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
