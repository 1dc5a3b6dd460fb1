// Telling systemd how a role is doing, for units of Type=notify (contrib/systemd/): READY=1 once it serves,
// RELOADING=1 while it re-reads its settings, STOPPING=1 when it shuts down, and a STATUS= line. Node.js cannot send
// on a unix datagram socket, so the message goes through systemd-notify, which by default waits until the manager
// has taken it (the unit needs NotifyAccess=all, since the sender is a child of the role). Outside systemd
// (no NOTIFY_SOCKET) this does nothing.

import { execFile } from 'node:child_process';
import type { Log } from './log';

const NOTIFY_TIMEOUT_MS = 10_000;

export function notifySystemd(log: Log, ...fields: string[]): Promise<void> {
  if (!process.env.NOTIFY_SOCKET) return Promise.resolve();
  return new Promise((resolve) => {
    execFile('systemd-notify', [`--pid=${process.pid}`, ...fields], { timeout: NOTIFY_TIMEOUT_MS }, (error) => {
      if (error) log.warn(`cannot tell systemd ${fields.join(' ')}: ${error.message.trim()}`);
      resolve();
    });
  });
}
