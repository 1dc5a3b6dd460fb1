// An attacker process for the connection tests: opens COUNT connections to HOST:PORT from loopback addresses
// 127.BLOCK.x.y (PER_ADDRESS per address, 250 by default), the first TLS_COUNT of them through a TLS handshake, the rest plain TCP that
// never says a word, and holds them all idle until its stdin closes. Prints one JSON line when all were tried:
// {"opened":N,"failed":N,"closedByPeer":N}, and another on stdin's end with the final count closed by the peer.
// Its own process, so its descriptors do not count against the test runner's.
//
//   node idle-flood.mjs HOST PORT COUNT TLS_COUNT BLOCK [PER_ADDRESS]

import net from 'node:net';
import tls from 'node:tls';

const [host = '127.0.0.1', portText = '0', countText = '0', tlsText = '0', blockText = '20', perAddressText = '250'] = process.argv.slice(2);
const perAddress = Number(perAddressText);
const port = Number(portText);
const count = Number(countText);
const tlsCount = Number(tlsText);
const block = Number(blockText);
const sockets = [];
let failed = 0;
let closedByPeer = 0;

function source(index) {
  const address = Math.floor(index / perAddress);
  return `127.${block}.${Math.floor(address / 250)}.${(address % 250) + 1}`;
}

function open(index) {
  return new Promise((resolve) => {
    const options = { host, port, localAddress: source(index) };
    const socket = index < tlsCount ? tls.connect({ ...options, rejectUnauthorized: false }) : net.connect(options);
    let settled = false;
    const settle = (ok) => {
      if (settled) return;
      settled = true;
      if (!ok) failed++;
      resolve();
    };
    socket.once(index < tlsCount ? 'secureConnect' : 'connect', () => {
      sockets.push(socket);
      settle(true);
    });
    socket.on('error', () => settle(false));
    socket.resume(); // reads whatever the server says, so its close is seen
    socket.on('close', () => {
      if (settled) closedByPeer++;
      settle(false);
    });
    socket.setTimeout(20_000, () => socket.destroy());
  });
}

for (let start = 0; start < count; start += 200) {
  await Promise.all(Array.from({ length: Math.min(200, count - start) }, (_, offset) => open(start + offset)));
}
process.stdout.write(`${JSON.stringify({ opened: sockets.length, failed, closedByPeer })}\n`);
for (const socket of sockets) socket.setTimeout(0);
process.stdin.on('end', () => {
  process.stdout.write(`${JSON.stringify({ closedByPeer })}\n`);
  for (const socket of sockets) socket.destroy();
  process.exit(0);
});
process.stdin.resume();
