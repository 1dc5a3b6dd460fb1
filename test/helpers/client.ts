// The client API in end-to-end tests: log in (closed at teardown), put one file (through the client, or step by
// step as raw requests), and read a failure's code.

import type { Test } from 'tap';
import type { Entry, ProgressListener, PutOptions } from '../../src/client/api';
import { connectCluster, type RemoteClient } from '../../src/client/client';
import { sendFiles } from '../../src/client/transfer';
import type { Channel } from '../../src/wire/channel';
import type { ResponseOf } from '../../src/wire/messages';
import type { PeerLinks } from '../../src/wire/pool';
import type { HostPort } from '../../src/wire/address';
import { isDfsError } from '../../src/wire/errors';

export async function loginAt(t: Test, address: HostPort, caPem: string, user: string, password?: string): Promise<RemoteClient> {
  const client = await connectCluster({ address, caPem, user, password });
  t.teardown(() => client.close());
  return client;
}

/** 'OK', or the DfsError code the operation failed with. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'OK';
  } catch (error) {
    return isDfsError(error) ? error.code : String(error);
  }
}

/** A put of one file, as most tests make one: the client's put of a list of one, then the file as the master has it. */
export async function putFile(client: RemoteClient, localPath: string, remotePath: string, options?: PutOptions): Promise<Entry> {
  await client.put([{ localPath, remotePath }], options);
  return client.stat(remotePath);
}

/** file.put.begin of one file as a raw request on a logged-in channel: the master's answer, with its one blob id. */
export async function beginPut(channel: Channel, path: string, size: number, overwrite = false): Promise<ResponseOf<'file.put.begin'> & { blobId: string }> {
  const { data } = await channel.request('file.put.begin', { files: [{ path, size }], overwrite });
  const [blobId] = data.blobIds;
  if (blobId === undefined || data.blobIds.length !== 1) throw new Error(`the master booked ${data.blobIds.length} blobs for one file`);
  return { ...data, blobId };
}

/** Upload step 3 of one file (sendFiles of a list of one): its blob as the node stored it. */
export async function sendFile(links: PeerLinks, localPath: string, size: number, begin: ResponseOf<'file.put.begin'>, onProgress?: ProgressListener): Promise<{ size: number; sha256: string }> {
  const { blobs } = await sendFiles(links, [{ localPath, size }], begin, onProgress);
  const [stored] = blobs;
  if (!stored || blobs.length !== 1) throw new Error(`the node answered for ${blobs.length} blobs where one was sent`);
  return stored;
}
