// The master's book of uploads in progress: a booking lapses when its ticket does unless its
// node says bytes are flowing; bookings are counted per user and capped per session; a booking taken for its
// commit is handed out to a cancel that waits for it.

import t from 'tap';
import { TICKET_TTL_MS_DEFAULT, UPLOAD_HOLD_MS, UPLOADS_PENDING_PER_SESSION_MAX } from '../../src/limits';
import { DfsError } from '../../src/wire/errors';
import { PendingUploads, type PendingUpload } from '../../src/master/core/uploads';

const START_MS = 1_700_000_000_000;

function upload(blobId: string, fields: Partial<PendingUpload> = {}): PendingUpload {
  return { blobId, userId: 2, session: 'session-a', path: `/${blobId}`, size: 1_000, overwrite: false, nodeId: 'n-1', forgetMs: START_MS + TICKET_TTL_MS_DEFAULT, ...fields };
}

t.test('a booking nobody sends bytes for lapses with its ticket; one its node names in heartbeats is held', (t) => {
  const uploads = new PendingUploads();
  uploads.add(upload('idle'), START_MS);
  uploads.add(upload('flowing'), START_MS);
  t.equal(uploads.bookedBy(2, START_MS), 2_000, 'both booked');
  let nowMs = START_MS;
  while (nowMs < START_MS + TICKET_TTL_MS_DEFAULT + 60_000) {
    nowMs += 2_000;
    uploads.hold('flowing', 'n-1', nowMs + UPLOAD_HOLD_MS); // the receiving node's heartbeat
    uploads.hold('idle', 'n-2', nowMs + UPLOAD_HOLD_MS); // another node cannot hold it
  }
  t.equal(uploads.bookedBy(2, nowMs), 1_000, 'only one booking still counts against its user');
  t.equal(uploads.peek('idle'), undefined, 'the idle booking lapsed');
  t.ok(uploads.peek('flowing'), 'the flowing one is held');
  t.equal(uploads.bookedBy(2, nowMs + UPLOAD_HOLD_MS + 1), 0, 'once its heartbeats stop, it lapses too');
  t.end();
});

t.test('a session has at most UPLOADS_PENDING_PER_SESSION_MAX uploads in progress; another session is not affected', (t) => {
  const uploads = new PendingUploads();
  for (let index = 0; index < UPLOADS_PENDING_PER_SESSION_MAX; index++) uploads.add(upload(`a${index}`), START_MS);
  t.throws(() => uploads.add(upload('one-more'), START_MS), new DfsError('RATE_LIMITED', `this session has ${UPLOADS_PENDING_PER_SESSION_MAX} uploads in progress; let some finish first`), 'one more in that session is refused');
  uploads.add(upload('b0', { session: 'session-b' }), START_MS);
  t.ok(uploads.peek('b0'), 'another session still books');
  uploads.take('a0', START_MS);
  uploads.add(upload('after-one-finished'), START_MS);
  t.ok(uploads.peek('after-one-finished'), 'a finished upload makes room');
  t.end();
});

t.test('the bytes booked on a node, but for the blobs its own free space counts already (it said it receives them)', (t) => {
  const uploads = new PendingUploads();
  uploads.add(upload('a'), START_MS);
  uploads.add(upload('b'), START_MS);
  uploads.add(upload('c', { nodeId: 'n-2' }), START_MS);
  t.equal(uploads.reservedOn('n-1'), 2_000);
  t.equal(uploads.reservedOn('n-1', new Set(['a', 'c'])), 1_000, 'a is in the node\'s figures; c is not booked there');
  t.end();
});
