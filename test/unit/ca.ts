// The cluster CA: what it issues must verify with OpenSSL-backed Node crypto and real TLS, and
// whatever a joining node sends as a CSR must either yield an honest key or a BAD_REQUEST.

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import forge from 'node-forge';
import t from 'tap';
import {
  caDigest,
  commonName,
  createCa,
  createCsr,
  fingerprint,
  isIssuedBy,
  issueCertificate,
  issueServerIdentity,
  NODE_CN_PREFIX,
  publicKeyFromCsr,
  type KeyCert,
} from '../../src/trust/ca';
import { DfsError } from '../../src/wire/errors';
import { thrown } from '../helpers/errors';

const DAY_MS = 24 * 60 * 60 * 1000;
const MINUTE_MS = 60 * 1000;

const ca = createCa('dfs test CA');
// Non-ASCII on purpose: the issuer name of its leaves must still equal its subject byte for byte.
const otherCa = createCa('dfs CA für Ärzte');
const server = issueServerIdentity(ca, { commonName: 'master', hosts: ['10.1.2.3', 'Master.Example', 'fd00::1:2'] });
const joiner = createCsr('node:whatever-the-joiner-claims');
const nodeCertPem = issueCertificate(
  ca,
  { commonName: `${NODE_CN_PREFIX}n1`, hosts: ['10.0.0.7'] },
  publicKeyFromCsr(joiner.csrPem),
);
const node: KeyCert = { keyPem: joiner.keyPem, certPem: nodeCertPem };
const strangerNode = issueServerIdentity(otherCa, { commonName: `${NODE_CN_PREFIX}n1`, hosts: [] });

function spkiDer(key: string): Buffer {
  const publicKey = key.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(key)) : createPublicKey(key);
  return publicKey.export({ type: 'spki', format: 'der' });
}

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

t.test('CA: self-signed, marked CA with critical basicConstraints, 10 years, backdated 5 minutes', async (t) => {
  const cert = new X509Certificate(ca.certPem);
  t.equal(cert.ca, true);
  t.equal(cert.subject, 'CN=dfs test CA');
  t.equal(cert.issuer, cert.subject);
  t.ok(cert.checkIssued(cert), 'issued by itself');
  t.ok(cert.verify(cert.publicKey), 'signed by its own key');
  t.ok(isIssuedBy(ca.certPem, ca.certPem));
  t.ok(cert.checkPrivateKey(createPrivateKey(ca.keyPem)), 'keyPem belongs to the certificate');
  const forgeCert = forge.pki.certificateFromPem(ca.certPem);
  t.match(forgeCert.getExtension('basicConstraints'), { cA: true, critical: true });
  t.match(forgeCert.getExtension('keyUsage'), { keyCertSign: true, cRLSign: true, critical: true });
  t.equal(forgeCert.siginfo.algorithmOid, forge.pki.oids.sha256WithRSAEncryption);
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  t.ok(notBefore <= Date.now() - 4 * MINUTE_MS && notBefore >= Date.now() - 6 * MINUTE_MS, 'backdated ~5 min');
  const days = (notAfter - notBefore) / DAY_MS;
  t.ok(days >= 3652 && days <= 3654, `about 10 years (${days} days)`);
});

t.test('leaf: issued by the CA and by no other, with serial, EKU, key usage and SANs', async (t) => {
  const cert = new X509Certificate(server.certPem);
  t.equal(cert.ca, false);
  t.ok(isIssuedBy(server.certPem, ca.certPem));
  t.notOk(isIssuedBy(server.certPem, otherCa.certPem), 'another CA did not sign it');
  t.notOk(isIssuedBy(strangerNode.certPem, ca.certPem), 'nor did ours sign the other CA’s leaf');
  t.ok(cert.checkPrivateKey(createPrivateKey(server.keyPem)));
  // Right issuer name and key identifier, wrong signature: only the signature check can catch these.
  const der = pemBody(server.certPem);
  const badSignature = Buffer.from(der);
  badSignature[badSignature.length - 1] = (badSignature[badSignature.length - 1] ?? 0) ^ 0xff;
  t.notOk(isIssuedBy(toPem('CERTIFICATE', badSignature), ca.certPem), 'signature bytes altered');
  const renamed = Buffer.from(der);
  renamed[der.indexOf('master')] = 'M'.charCodeAt(0);
  t.equal(commonName(toPem('CERTIFICATE', renamed)), 'Master', 'the altered copy still parses');
  t.notOk(isIssuedBy(toPem('CERTIFICATE', renamed), ca.certPem), 'subject altered after signing');
  t.notOk(isIssuedBy(signedWithIssuer(ca, 'not the CA'), ca.certPem), 'CA key, but another issuer name');
  t.ok(isIssuedBy(signedWithIssuer(ca, 'dfs test CA'), ca.certPem), 'the same forgery with the right name');
  t.same([...(cert.keyUsage ?? [])].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], 'serverAuth + clientAuth');
  const names = (cert.subjectAltName ?? '').split(', ');
  for (const name of ['IP Address:10.1.2.3', 'DNS:master.example', 'DNS:localhost', 'IP Address:127.0.0.1']) {
    t.ok(names.includes(name), `SAN has ${name}`);
  }
  t.ok(names.includes('IP Address:FD00:0:0:0:0:0:1:2'), 'SAN has the IPv6 host');
  t.ok(names.includes('IP Address:0:0:0:0:0:0:0:1'), 'SAN has ::1');
  t.match(cert.serialNumber, /^[0-7][0-9A-F]{31}$/, '16-byte positive serial');
  t.not(cert.serialNumber, new X509Certificate(node.certPem).serialNumber);
  const forgeCert = forge.pki.certificateFromPem(server.certPem);
  t.match(forgeCert.getExtension('basicConstraints'), { cA: false });
  t.match(forgeCert.getExtension('keyUsage'), { digitalSignature: true, keyEncipherment: true, keyCertSign: false });
  const days = (Date.parse(cert.validTo) - Date.now()) / DAY_MS;
  t.ok(days > 1824 && days < 1826, `default 5 years (${days} days)`);
  t.ok(Date.parse(cert.validFrom) <= Date.now() - 4 * MINUTE_MS, 'backdated');
  const shortLived = new X509Certificate(issueCertificate(ca, { commonName: 'x', hosts: [] }, spkiPem(server.keyPem), 30));
  const shortDays = (Date.parse(shortLived.validTo) - Date.now()) / DAY_MS;
  t.ok(shortDays > 29 && shortDays < 31, `days honoured (${shortDays})`);
});

/** A leaf signed by the CA's key under a chosen issuer name, without the CA's help. */
function signedWithIssuer(signer: KeyCert, issuerName: string): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(spkiPem(server.keyPem));
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - DAY_MS);
  cert.validity.notAfter = new Date(Date.now() + DAY_MS);
  cert.setSubject([{ shortName: 'CN', value: 'forged' }]);
  cert.setIssuer([{ shortName: 'CN', value: issuerName }]);
  cert.sign(forge.pki.privateKeyFromPem(signer.keyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

function spkiPem(privateKeyPem: string): string {
  return createPublicKey(createPrivateKey(privateKeyPem)).export({ type: 'spki', format: 'pem' }).toString();
}

t.test('leaf: a non-ASCII CA name and node id survive issuing and read back', async (t) => {
  t.ok(isIssuedBy(strangerNode.certPem, otherCa.certPem), 'issuer equals the non-ASCII CA subject');
  t.equal(commonName(otherCa.certPem), 'dfs CA für Ärzte');
  const cert = issueCertificate(otherCa, { commonName: 'node:ü_1@x', hosts: [] }, spkiPem(server.keyPem));
  t.ok(isIssuedBy(cert, otherCa.certPem));
  t.equal(commonName(cert), 'node:ü_1@x');
});

t.test('issuing refuses bad input and a CA whose key is not its own', async (t) => {
  const publicKeyPem = spkiPem(server.keyPem);
  const cases: Array<[string, () => unknown, string]> = [
    ['empty CA name', () => createCa(''), 'BAD_REQUEST'],
    ['65-char name', () => issueCertificate(ca, { commonName: 'n'.repeat(65), hosts: [] }, publicKeyPem), 'BAD_REQUEST'],
    ['bad host', () => issueCertificate(ca, { commonName: 'x', hosts: ['bad host!'] }, publicKeyPem), 'BAD_REQUEST'],
    ['zone id', () => issueCertificate(ca, { commonName: 'x', hosts: ['fe80::1%eth0'] }, publicKeyPem), 'BAD_REQUEST'],
    ['zero days', () => issueCertificate(ca, { commonName: 'x', hosts: [] }, publicKeyPem, 0), 'BAD_REQUEST'],
    ['not a key', () => issueCertificate(ca, { commonName: 'x', hosts: [] }, 'garbage'), 'BAD_REQUEST'],
    ['unreadable CA', () => issueCertificate({ keyPem: 'x', certPem: ca.certPem }, { commonName: 'x', hosts: [] }, publicKeyPem), 'INTERNAL'],
    ['mixed CA', () => issueCertificate({ keyPem: otherCa.keyPem, certPem: ca.certPem }, { commonName: 'x', hosts: [] }, publicKeyPem), 'INTERNAL'],
  ];
  for (const [name, run, code] of cases) {
    const error = thrown(run);
    t.type(error, DfsError, name);
    t.equal((error as DfsError).code, code, name);
  }
});

interface Teardown {
  teardown(run: () => unknown): void;
}

interface Exchange {
  received: string;
  error: Error | null;
}

async function listen(t: Teardown, options: tls.TlsOptions): Promise<{ port: number; refused: Error[] }> {
  const refused: Error[] = [];
  const tlsServer = tls.createServer(options, (socket) => {
    const peer = socket.getPeerCertificate();
    socket.end(`ok ${peer.subject?.CN ?? '-'}`);
  });
  tlsServer.on('tlsClientError', (error) => refused.push(error));
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => tlsServer.close(() => resolve())));
  const address = tlsServer.address();
  if (address === null || typeof address === 'string') throw new Error('server has no port');
  return { port: address.port, refused };
}

function exchange(port: number, options: tls.ConnectionOptions): Promise<Exchange> {
  return new Promise((resolve) => {
    const result: Exchange = { received: '', error: null };
    const socket = tls.connect({ host: '127.0.0.1', port, ...options });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (result.received += chunk));
    socket.on('error', (error) => (result.error = error));
    socket.on('close', () => resolve(result));
  });
}

t.test('TLS: a client trusting the CA accepts the master by IP and by name, and nothing else', async (t) => {
  const { port } = await listen(t, { key: server.keyPem, cert: server.certPem });
  for (const servername of [undefined, 'localhost', 'master.example']) {
    const result = await exchange(port, { ca: ca.certPem, ...(servername ? { servername } : {}) });
    t.equal(result.error, null, `no error for ${servername ?? '127.0.0.1'}`);
    t.equal(result.received, 'ok -', `handshake for ${servername ?? '127.0.0.1'}`);
  }
  const wrongName = await exchange(port, { ca: ca.certPem, servername: 'evil.example' });
  t.match(wrongName.error, { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  t.equal(wrongName.received, '');
  const wrongCa = await exchange(port, { ca: otherCa.certPem });
  t.ok(wrongCa.error, 'a client trusting another CA refuses the master');
  t.equal(wrongCa.received, '');
});

t.test('mutual TLS: a node signed by our CA is let in, a stranger or certless peer is refused', async (t) => {
  const { port, refused } = await listen(t, {
    key: server.keyPem,
    cert: server.certPem,
    ca: ca.certPem,
    requestCert: true,
    rejectUnauthorized: true,
  });
  const member = await exchange(port, { ca: ca.certPem, key: node.keyPem, cert: node.certPem });
  t.equal(member.error, null);
  t.equal(member.received, 'ok node:n1', 'server sees the CN the master chose, not the CSR’s');
  t.equal(refused.length, 0);
  const stranger = await exchange(port, { ca: ca.certPem, key: strangerNode.keyPem, cert: strangerNode.certPem });
  // Under TLS 1.3 the client may finish its side before the server judges its certificate, so
  // the server's refusal is what is checked, not an error on the client.
  t.equal(stranger.received, '', 'stranger got nothing');
  t.equal(refused.length, 1, 'server refused the stranger');
  const certless = await exchange(port, { ca: ca.certPem });
  t.equal(certless.received, '', 'certless peer got nothing');
  t.equal(refused.length, 2, 'server refused the certless peer');
});

t.test('CSR: round trip keeps the joiner’s key; the master’s subject wins', async (t) => {
  t.same(spkiDer(publicKeyFromCsr(joiner.csrPem)), spkiDer(joiner.keyPem));
  const cert = new X509Certificate(node.certPem);
  t.same(cert.publicKey.export({ type: 'spki', format: 'der' }), spkiDer(joiner.keyPem));
  t.ok(cert.checkPrivateKey(createPrivateKey(joiner.keyPem)));
  t.equal(commonName(node.certPem), 'node:n1');
  t.ok(isIssuedBy(node.certPem, ca.certPem));
  t.ok((cert.subjectAltName ?? '').includes('IP Address:10.0.0.7'));
});

function forgeCsr(privateKeyPem: string, digest: forge.md.MessageDigest): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(spkiPem(privateKeyPem));
  csr.setSubject([{ shortName: 'CN', value: 'node:sneaky' }]);
  csr.sign(forge.pki.privateKeyFromPem(privateKeyPem), digest);
  return forge.pki.certificationRequestToPem(csr);
}

t.test('CSR: garbage, tampered, weak or foreign input is BAD_REQUEST', async (t) => {
  const der = pemBody(joiner.csrPem);
  const at = der.indexOf('whatever');
  t.ok(at > 0, 'CN found in the DER');
  const tamperedDer = Buffer.from(der);
  tamperedDer[at] = 'W'.charCodeAt(0);
  const tampered = toPem('CERTIFICATE REQUEST', tamperedDer);
  t.ok(forge.pki.certificationRequestFromPem(tampered), 'tampered CSR still parses');
  const smallKey = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  const cases: Array<[string, unknown]> = [
    ['empty', ''],
    ['garbage', 'garbage'],
    ['not a string', 42],
    ['a certificate, not a CSR', ca.certPem],
    ['truncated', joiner.csrPem.slice(0, 200) + '\n-----END CERTIFICATE REQUEST-----\n'],
    ['tampered', tampered],
    ['1024-bit key', forgeCsr(smallKey.toString(), forge.md.sha256.create())],
    ['SHA-1 signature', forgeCsr(joiner.keyPem, forge.md.sha1.create())],
    ['huge', joiner.csrPem + ' '.repeat(20000)],
  ];
  for (const [name, input] of cases) {
    const error = thrown(() => publicKeyFromCsr(input as string));
    t.type(error, DfsError, name);
    t.match(error, { code: 'BAD_REQUEST', message: 'invalid certificate signing request' }, name);
  }
});

t.test('fingerprint and caDigest: SHA-256 of the DER in the two agreed forms', async (t) => {
  const expected = createHash('sha256').update(pemBody(ca.certPem)).digest('hex');
  const shown = fingerprint(ca.certPem);
  t.match(shown, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  t.equal(shown.replace(/:/g, '').toLowerCase(), expected);
  const digest = caDigest(ca.certPem);
  t.match(digest, /^[0-9a-f]{64}$/);
  t.equal(digest, expected);
  t.equal(caDigest(ca.certPem), digest, 'stable');
  t.equal(caDigest(ca.certPem.replace(/\n/g, '\r\n')), digest, 'independent of line endings');
  t.not(caDigest(otherCa.certPem), digest);
  t.match(thrown(() => fingerprint('garbage')), { code: 'BAD_REQUEST' });
  t.match(thrown(() => caDigest('garbage')), { code: 'BAD_REQUEST' });
});

t.test('isIssuedBy and commonName on garbage', async (t) => {
  t.equal(isIssuedBy('garbage', ca.certPem), false);
  t.equal(isIssuedBy(server.certPem, 'garbage'), false);
  t.equal(isIssuedBy('', ''), false);
  t.equal(commonName(server.certPem), 'master');
  const error = thrown(() => commonName('garbage'));
  t.type(error, DfsError);
  t.match(error, { code: 'BAD_REQUEST' });
});
