import { describe, expect, it } from 'vitest';
import { differentProcess, ReplyQueueEpochs } from './reply-epochs.ts';

const A = 'nova-api:100:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const A2 = 'nova-api:100:1f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const B = 'nova-api:200:2f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

describe('ReplyQueueEpochs: reply-queue consumers keyed by connection', () => {
  it('records epochs per queue, answers who consumed when, and widens on repeats', () => {
    const e = new ReplyQueueEpochs();
    e.observe('reply_h:p:1', A, 100);
    e.observe('reply_h:p:1', A, 200);
    e.observe('reply_h:p:1', B, 500);
    expect(e.list('reply_h:p:1').map((x) => [x.process, x.firstSeen, x.lastSeen])).toEqual([
      ['nova-api:100', 100, 200],
      ['nova-api:200', 500, 500],
    ]);
    expect(e.current('reply_h:p:1')?.connectionName).toBe(B);
    expect(e.at('reply_h:p:1', 150)?.connectionName).toBe(A);
    expect(e.at('reply_h:p:1', 50)).toBeNull();
    // a late observation of the old epoch (lookups and traces race) does not make it current again
    e.observe('reply_h:p:1', A, 450);
    expect(e.current('reply_h:p:1')?.connectionName).toBe(B);
    expect(e.list('reply_h:p:1')[0].lastSeen).toBe(450);
    // an observation older than the newest epoch is put before it
    e.observe('reply_h:p:1', A2, 300);
    expect(e.list('reply_h:p:1').map((x) => x.connectionName)).toEqual([A, A2, B]);
  });

  it('is bounded in queues and epochs per queue', () => {
    const e = new ReplyQueueEpochs(3, 2);
    for (let i = 0; i < 5; i++) e.observe(`reply_${i}`, A, i);
    expect(e.size).toBe(3);
    expect(e.current('reply_0')).toBeNull();
    for (let i = 0; i < 5; i++) e.observe('reply_4', `p:${i}:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0`, 10 + i);
    expect(e.list('reply_4')).toHaveLength(2);
  });

  it('a new connection of the same <prog>:<pid> is a reconnect, another pid a restart', () => {
    expect(differentProcess(A, A2)).toBe(false);
    expect(differentProcess(A, B)).toBe(true);
  });
});
