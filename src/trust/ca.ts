// The cluster's certificate authority: creating the CA, issuing leaf certificates for the master
// and for joining nodes, checking CSRs, and the digests users and join tokens use to pin the CA.
// Keys and signatures come from Node's crypto (native, fast); certificates and CSRs are built with node-forge
// (its pure-JS RSA took about a second of CPU for each cluster's first start).

import { constants, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, privateEncrypt, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { DfsError } from '../wire/errors';

export interface KeyCert {
  keyPem: string;
  certPem: string;
}

export interface CertificateSubject {
  commonName: string;
  hosts: string[];
}

export interface KeyCsr {
  keyPem: string;
  csrPem: string;
}

/** Node certificates carry CN "node:<nodeId>"; the CN is the node's authenticated identity. */
export const NODE_CN_PREFIX = 'node:';

// Candidates for limits.ts; kept here until that file exists.
const KEY_BITS = 2048;
const KEY_BITS_MIN = 2048;
// Bounds the cost of verifying a peer's CSR with forge's pure-JS RSA.
const KEY_BITS_MAX = 4096;
const KEY_EXPONENT_BITS_MAX = 32;
const CSR_PEM_BYTES_MAX = 16 * 1024;
const SERIAL_BYTES = 16;
const CA_VALIDITY_YEARS = 10;
const LEAF_VALIDITY_DAYS_DEFAULT = 1825;
const LEAF_VALIDITY_DAYS_MAX = 36500;
const CLOCK_SKEW_MS = 5 * 60 * 1000;
const COMMON_NAME_CHARS_MAX = 64; // ub-common-name in RFC 5280
const DNS_NAME_CHARS_MAX = 253;
const DAY_MS = 24 * 60 * 60 * 1000;
const ALWAYS_HOSTS = ['localhost', '127.0.0.1', '::1'];
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
// A CSR signature only proves key possession, but we still refuse digests nobody should produce.
const CSR_SIGNATURE_OIDS = new Set([
  forge.pki.oids.sha256WithRSAEncryption,
  forge.pki.oids.sha384WithRSAEncryption,
  forge.pki.oids.sha512WithRSAEncryption,
]);

const invalidCsr = (): DfsError => new DfsError('BAD_REQUEST', 'invalid certificate signing request');

export function createCa(commonName: string): KeyCert {
  const keys = generateRsaKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  cert.serialNumber = serialNumber();
  const notBefore = new Date(Date.now() - CLOCK_SKEW_MS);
  const notAfter = new Date(notBefore.getTime() + CLOCK_SKEW_MS);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_VALIDITY_YEARS);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  const name = nameAttributes(commonName);
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(nativeSigner(createPrivateKey(keys.privateKeyPem)), forge.md.sha256.create());
  return { keyPem: keys.privateKeyPem, certPem: forge.pki.certificateToPem(cert) };
}

/** Signs a leaf certificate usable both as TLS server and TLS client (nodes are both). */
export function issueCertificate(
  ca: KeyCert,
  subject: CertificateSubject,
  publicKeyPem: string,
  days: number = LEAF_VALIDITY_DAYS_DEFAULT,
): string {
  if (!Number.isInteger(days) || days < 1 || days > LEAF_VALIDITY_DAYS_MAX) {
    throw new DfsError('BAD_REQUEST', `certificate validity must be 1..${LEAF_VALIDITY_DAYS_MAX} days`);
  }
  const { caCert, caKey } = parseCa(ca);
  const cert = forge.pki.createCertificate();
  cert.publicKey = parseLeafPublicKey(publicKeyPem);
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(Date.now() - CLOCK_SKEW_MS);
  cert.validity.notAfter = new Date(cert.validity.notBefore.getTime() + CLOCK_SKEW_MS + days * DAY_MS);
  cert.setSubject(nameAttributes(subject.commonName));
  cert.setIssuer(copyName(caCert.subject.attributes));
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames: altNames(subject.hosts) },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(nativeSigner(caKey), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** A fresh key and a certificate for it; the master uses this for its own server identity. */
export function issueServerIdentity(ca: KeyCert, subject: CertificateSubject): KeyCert {
  const keys = generateRsaKeys();
  return { keyPem: keys.privateKeyPem, certPem: issueCertificate(ca, subject, keys.publicKeyPem) };
}

/** A joining node's key and its CSR; the private key never leaves the node. */
export function createCsr(commonName: string): KeyCsr {
  const keys = generateRsaKeys();
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  csr.setSubject(nameAttributes(commonName));
  csr.sign(nativeSigner(createPrivateKey(keys.privateKeyPem)), forge.md.sha256.create());
  return { keyPem: keys.privateKeyPem, csrPem: forge.pki.certificationRequestToPem(csr) };
}

/**
 * The public key of a CSR whose self-signature holds. Only the key is taken: the master chooses
 * subject and SANs itself, so nothing else in the CSR can widen what the node is trusted for.
 */
export function publicKeyFromCsr(csrPem: string): string {
  if (typeof csrPem !== 'string' || csrPem.length > CSR_PEM_BYTES_MAX) throw invalidCsr();
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(csrPem);
  } catch {
    throw invalidCsr();
  }
  const key = csr.publicKey;
  // Size is checked before the signature so an oversized key costs us nothing.
  if (key === null || !isAcceptableRsaKey(key)) throw invalidCsr();
  if (csr.signatureOid === null || !CSR_SIGNATURE_OIDS.has(csr.signatureOid)) throw invalidCsr();
  if (!verifyCsr(csr)) throw invalidCsr();
  return forge.pki.publicKeyToPem(key);
}

/** SHA-256 of the DER as "AB:CD:…", the form users compare on trust-on-first-use prompts. */
export function fingerprint(certPem: string): string {
  return parseX509(certPem).fingerprint256;
}

/** SHA-256 of the DER as 64 lowercase hex digits, the form join tokens carry. */
export function caDigest(certPem: string): string {
  return createHash('sha256').update(parseX509(certPem).raw).digest('hex');
}

/** Whether caCertPem signed certPem; false on anything unparsable, since callers decide trust. */
export function isIssuedBy(certPem: string, caCertPem: string): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const caCert = new X509Certificate(caCertPem);
    return cert.checkIssued(caCert) && cert.verify(caCert.publicKey);
  } catch {
    return false;
  }
}

export function commonName(certPem: string): string {
  let cert: forge.pki.Certificate;
  try {
    cert = forge.pki.certificateFromPem(certPem);
  } catch {
    throw new DfsError('BAD_REQUEST', 'invalid certificate');
  }
  const field: unknown = cert.subject.getField('CN');
  const value = fieldText(field);
  if (value === null) throw new DfsError('BAD_REQUEST', 'certificate has no common name');
  return value;
}

function generateRsaKeys(): { publicKeyPem: string; privateKeyPem: string } {
  const keys = generateKeyPairSync('rsa', {
    modulusLength: KEY_BITS,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: keys.publicKey, privateKeyPem: keys.privateKey };
}

/** 16 random bytes as a positive, minimally encoded DER INTEGER (strict parsers reject others). */
function serialNumber(): string {
  const bytes = randomBytes(SERIAL_BYTES);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString('hex');
}

function nameAttributes(commonName: string): forge.pki.CertificateField[] {
  const chars = [...commonName].length;
  if (chars < 1 || chars > COMMON_NAME_CHARS_MAX) {
    throw new DfsError('BAD_REQUEST', `common name must be 1..${COMMON_NAME_CHARS_MAX} characters`);
  }
  // UTF8String, because forge's default PrintableString cannot hold '_', '@' or non-ASCII.
  return [{ shortName: 'CN', value: commonName, valueTagClass: UTF8_TAG }];
}

// forge's typings declare valueTagClass as an asn1.Class, but it holds a universal tag number.
const UTF8_TAG = forge.asn1.Type.UTF8 as unknown as forge.asn1.Class;

/** Re-encodable copy of a parsed name: forge keeps parsed UTF8 values as raw bytes. */
function copyName(attributes: forge.pki.CertificateField[]): forge.pki.CertificateField[] {
  return attributes.map((attribute) => {
    const isUtf8 = attribute.valueTagClass === UTF8_TAG && typeof attribute.value === 'string';
    return isUtf8 ? { ...attribute, value: forge.util.decodeUtf8(attribute.value as string) } : attribute;
  });
}

function fieldText(field: unknown): string | null {
  if (typeof field !== 'object' || field === null) return null;
  const { value, valueTagClass } = field as { value?: unknown; valueTagClass?: unknown };
  if (typeof value !== 'string' || value.length === 0) return null;
  try {
    return valueTagClass === UTF8_TAG ? forge.util.decodeUtf8(value) : value;
  } catch {
    return null;
  }
}

type AltName = { type: 2; value: string } | { type: 7; value: string };

function altNames(hosts: string[]): AltName[] {
  const seen = new Set<string>();
  const names: AltName[] = [];
  for (const host of [...hosts, ...ALWAYS_HOSTS]) {
    const name = altName(host);
    const key = `${name.type}/${name.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    names.push(name);
  }
  return names;
}

function altName(host: string): AltName {
  // A zone id ("fe80::1%eth0") names an interface, not an address a certificate can vouch for.
  if (isIP(host) !== 0 && !host.includes('%')) return { type: 7, value: ipBytes(host) };
  const name = host.toLowerCase();
  if (name.length > DNS_NAME_CHARS_MAX || !DNS_NAME.test(name)) {
    throw new DfsError('BAD_REQUEST', `invalid host for a certificate: ${JSON.stringify(host)}`);
  }
  return { type: 2, value: name };
}

/** Network-order bytes of an address; ours because forge's parser misses "::ffff:1.2.3.4". */
function ipBytes(ip: string): string {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number)).toString('binary');
  let text = ip;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = [...headGroups, ...zeros, ...tailGroups];
  if (groups.length !== 8) throw new DfsError('INTERNAL', `could not expand IPv6 address ${ip}`);
  const bytes = Buffer.alloc(16);
  groups.forEach((group, index) => bytes.writeUInt16BE(parseInt(group, 16), index * 2));
  return bytes.toString('binary');
}

function parseLeafPublicKey(publicKeyPem: string): forge.pki.rsa.PublicKey {
  let key: forge.pki.rsa.PublicKey;
  try {
    key = forge.pki.publicKeyFromPem(publicKeyPem);
  } catch {
    throw new DfsError('BAD_REQUEST', 'invalid public key');
  }
  if (!isAcceptableRsaKey(key)) throw new DfsError('BAD_REQUEST', 'invalid public key');
  return key;
}

function isAcceptableRsaKey(key: forge.pki.PublicKey): key is forge.pki.rsa.PublicKey {
  if (!('n' in key) || !('e' in key)) return false;
  const bits = key.n.bitLength();
  return bits >= KEY_BITS_MIN && bits <= KEY_BITS_MAX && key.e.bitLength() <= KEY_EXPONENT_BITS_MAX;
}

function verifyCsr(csr: forge.pki.CertificateSigningRequest): boolean {
  try {
    return csr.verify();
  } catch {
    return false;
  }
}

/** A CA whose key and certificate disagree would issue certificates nobody can verify: a bug. */
function parseCa(ca: KeyCert): { caCert: forge.pki.Certificate; caKey: KeyObject } {
  let caCert: forge.pki.Certificate;
  let caKey: KeyObject;
  let certKeyDer: Buffer;
  try {
    caCert = forge.pki.certificateFromPem(ca.certPem);
    caKey = createPrivateKey(ca.keyPem);
    certKeyDer = new X509Certificate(ca.certPem).publicKey.export({ type: 'spki', format: 'der' });
  } catch {
    throw new DfsError('INTERNAL', 'unreadable CA key or certificate');
  }
  if (!createPublicKey(caKey).export({ type: 'spki', format: 'der' }).equals(certKeyDer)) {
    throw new DfsError('INTERNAL', 'CA key does not match the CA certificate');
  }
  return { caCert, caKey };
}

/** DER of DigestInfo's prefix for SHA-256 (RFC 8017 §9.2): what PKCS#1 v1.5 signs, before the digest itself. */
const SHA256_DIGEST_INFO_PREFIX = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * What forge's cert.sign and csr.sign call `key.sign(md)` on, backed by Node's RSA: a PKCS#1 v1.5 signature is
 * the private-key operation on DigestInfo with type-1 padding, which privateEncrypt with RSA_PKCS1_PADDING is.
 * forge types the argument as its own key; only `sign` is ever called on it.
 */
function nativeSigner(key: KeyObject): forge.pki.rsa.PrivateKey {
  const signer = {
    sign(md: forge.md.MessageDigest): forge.Bytes {
      if (md.algorithm !== 'sha256') throw new DfsError('INTERNAL', `unsupported signature digest ${md.algorithm}`);
      const digestInfo = Buffer.concat([SHA256_DIGEST_INFO_PREFIX, Buffer.from(md.digest().getBytes(), 'binary')]);
      return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, digestInfo).toString('binary');
    },
  };
  return signer as unknown as forge.pki.rsa.PrivateKey;
}

function parseX509(certPem: string): X509Certificate {
  try {
    return new X509Certificate(certPem);
  } catch {
    throw new DfsError('BAD_REQUEST', 'invalid certificate');
  }
}
