// A simulated user at the shell: puts (new files and overwrites), gets, removes and copies files in its own
// namespace one at a time, as the real client does (src/client): begin at the master, send the bytes to the
// node it names, cancel a failed upload (asking whether it was committed after all), retry a read elsewhere.
// It keeps the model the invariants are checked against: which files it was told are stored, with which bytes.

import { DfsError, isDfsError } from '../../src/wire/errors';
import type { MessageType, RequestOf, ResponseOf } from '../../src/wire/messages';
import { Conn, type SimLink } from './network';
import type { World } from './world';

/** A file as this client knows it: `acked` once it was told the file is stored; otherwise the outcome is unknown. */
export interface Known {
  blobId: string;
  sha256: string;
  size: number;
  acked: boolean;
}

const READ_TRIES = 3;

export class SimClient {
  readonly files = new Map<string, Known>();
  private conn: Conn | undefined;
  private link: SimLink | undefined;
  private serial = 0;
  /** Operations that ended as the model expects, and those the cluster refused or lost during faults. */
  ok = 0;
  failed = 0;

  constructor(
    private readonly world: World,
    readonly id: string,
    readonly userId: number,
    readonly user: string,
  ) {}

  /** Works until the world stops asking for traffic. */
  async loop(): Promise<void> {
    const { prng } = this.world;
    while (this.world.traffic) {
      await this.world.clock.sleep(prng.int(200, 6_000));
      if (!this.world.traffic) break;
      const roll = prng.next();
      const paths = [...this.files.keys()];
      const acked = paths.filter((path) => this.files.get(path)?.acked === true);
      if (roll < 0.55 || paths.length < 3) await this.put(`/f${this.serial++}`, false);
      else if (roll < 0.62) await this.put(prng.pick(paths), true);
      else if (roll < 0.8 && acked.length > 0) await this.get(prng.pick(acked), false);
      else if (roll < 0.95) await this.remove(prng.pick(paths));
      else if (acked.length > 0) await this.copy(prng.pick(acked), `/f${this.serial++}`);
    }
  }

  private master<T extends MessageType>(type: T, data: RequestOf<T>): Promise<ResponseOf<T>> {
    if (!this.conn || !this.conn.open || !this.link) {
      const conn = new Conn();
      const link = this.world.connectClient(this, conn);
      if (!link) return Promise.reject(new DfsError('UNAVAILABLE', 'cannot reach the master'));
      this.conn = conn;
      this.link = link;
    }
    const link = this.link;
    return this.world.network.call(this.id, 'master', this.conn, () => this.world.masterServe(link, type, data));
  }

  private know(path: string, known: Known | undefined): void {
    const before = this.files.get(path);
    if (before?.acked) this.world.forgetAcked(before.blobId);
    if (known === undefined) this.files.delete(path);
    else {
      this.files.set(path, known);
      if (known.acked) this.world.acked(known.blobId, this, path);
    }
  }

  /** Upload steps 1-7 from the client's side. */
  async put(path: string, overwrite: boolean): Promise<void> {
    const { prng } = this.world;
    const size = prng.chance(0.1) ? 0 : prng.int(1, prng.chance(0.1) ? 64 * 1024 * 1024 : 2 * 1024 * 1024);
    const sha256 = prng.hex(32);
    let begun;
    try {
      begun = await this.master('file.put.begin', { files: [{ path, size }], overwrite });
    } catch {
      // Nothing was sent: no file can be committed from this upload (its booking lapses).
      this.failed++;
      return;
    }
    const blobId = begun.blobIds[0] ?? '';
    const upload = { blobId, sha256, size };
    // Once the bytes are sent the old file may be replaced (and its blob deleted) before the answer arrives.
    const before = this.files.get(path);
    if (before) this.know(path, { ...before, acked: false });
    try {
      const stored = await this.world.node(begun.nodeId).call(this.id, (node) => node.receive('node.blob.stored', { blobId, size, content: sha256 }, begun.chain, { aborted: false }), this.world.transferTimeoutMs(size));
      if (stored.sha256 !== sha256) this.world.violation(`${this.user}:${path}: the node stored ${stored.sha256}, the client sent ${sha256}`);
      this.know(path, { ...upload, acked: true });
      this.world.note(`${this.id} put ${path} as ${blobId} on ${begun.nodeId} → ${begun.chain.map((link) => link.nodeId).join(' → ')}: acknowledged`);
      this.ok++;
    } catch (error) {
      this.failed++;
      this.world.note(`${this.id} put ${path} as ${blobId}: ${DfsError.wrap(error).message}`);
      try {
        const { committed } = await this.master('file.put.cancel', { files: [{ path, blobId }] });
        this.world.note(`${this.id} cancelled ${path} (${blobId}): ${committed[0] === true ? 'committed after all' : 'not committed'}`);
        if (committed[0] === true) this.know(path, { ...upload, acked: true });
        else if (before) this.know(path, before); // not committed: an overwritten file keeps its old bytes
      } catch {
        this.know(path, { ...(before ?? upload), acked: false });
      }
      return;
    }
    await this.master('file.put.wait', { files: [{ path, blobId }] }).catch(() => undefined);
  }

  /** Download steps 1-6: another replica after a failure, the bytes checked against the file's hash. */
  async get(path: string, mustSucceed: boolean): Promise<void> {
    const known = this.files.get(path);
    const exclude: string[] = [];
    let lastError: unknown;
    for (let attempt = 0; attempt < READ_TRIES; attempt++) {
      try {
        const begun = await this.master('file.get.begin', { path, exclude });
        if (known?.acked && begun.sha256 !== known.sha256) {
          this.world.violation(`${this.user}:${path}: the master serves bytes ${begun.sha256}, acknowledged were ${known.sha256}`);
          return;
        }
        try {
          const read = await this.world.node(begun.nodeId).call(this.id, (node) => node.serveRead(begun.blobId), this.world.transferTimeoutMs(begun.size));
          if (read.content !== begun.sha256) {
            await this.master('file.get.bad', { path, blobId: begun.blobId, nodeIds: [begun.nodeId] }).catch(() => undefined);
            throw new DfsError('CORRUPT', 'bytes differ from the file\'s hash');
          }
          this.ok++;
          return;
        } catch (error) {
          exclude.push(begun.nodeId);
          throw error;
        }
      } catch (error) {
        lastError = error;
        if (isDfsError(error, 'NOT_FOUND')) break;
      }
    }
    this.failed++;
    if (mustSucceed) this.world.violation(`${this.user}:${path}: cannot be read after the cluster settled: ${DfsError.wrap(lastError).message}`);
  }

  async remove(path: string): Promise<void> {
    const before = this.files.get(path);
    // Once asked, the file may be gone (and its blobs deleted) before the answer arrives.
    if (before) this.know(path, { ...before, acked: false });
    try {
      await this.master('fs.remove', { path, recursive: false });
      this.world.note(`${this.id} removed ${path} (${before?.blobId ?? '?'})`);
      this.know(path, undefined);
      this.ok++;
    } catch (error) {
      this.failed++;
      if (isDfsError(error, 'NOT_FOUND')) this.know(path, undefined);
    }
  }

  /** A copy on the cluster (fs.copy): the target holds the source's bytes under a new blob. */
  async copy(source: string, target: string): Promise<void> {
    const known = this.files.get(source);
    if (!known) return;
    try {
      const { blobId } = await this.master('fs.copy', { source, target, overwrite: false });
      this.know(target, { blobId, sha256: known.sha256, size: known.size, acked: true });
      this.ok++;
    } catch {
      this.failed++;
      // Committed or not is unknown (the master may have committed before the answer was lost).
      this.know(target, { blobId: '', sha256: known.sha256, size: known.size, acked: false });
    }
  }
}
