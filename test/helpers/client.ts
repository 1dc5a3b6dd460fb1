// The client API in end-to-end tests: log in (closed at teardown), and read a failure's code.

import type { Test } from 'tap';
import { connectCluster, type RemoteClient } from '../../src/client/client';
import type { HostPort } from '../../src/net/address';
import { isDfsError } from '../../src/net/errors';

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
