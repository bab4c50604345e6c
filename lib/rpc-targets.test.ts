import { describe, expect, it } from 'vitest';
import { topicWarning } from './rpc-targets.ts';

const none = { topics: [], notificationTopics: [] };

describe('topicWarning', () => {
  it('warns about notification topics by name, reply queues and fanout names', () => {
    for (const t of ['notifications', 'versioned_notifications', 'notifications.info', 'versioned_notifications.error', 'ironic_notifications']) {
      expect(topicWarning(t, none)?.reason, t).toBe('notification');
    }
    expect(topicWarning('notifications', none)?.text).toMatch(/notification topic.*no RPC server.*times out/);
    expect(topicWarning('reply_0123456789abcdef0123456789abcdef', none)?.reason).toBe('reply');
    expect(topicWarning('reply_host-1:nova-api:3', none)?.reason).toBe('reply');
    expect(topicWarning('compute_fanout', none)).toMatchObject({ reason: 'fanout', text: expect.stringContaining('topic "compute"') });
    expect(topicWarning('compute_fanout_0123abcd', none)).toMatchObject({ reason: 'fanout', text: expect.stringContaining('topic "compute"') });
  });

  it('warns about a topic the tap saw carrying only notifications, whatever its name', () => {
    expect(topicWarning('events', { topics: ['compute'], notificationTopics: ['events'] })).toMatchObject({
      reason: 'notification',
      text: expect.stringContaining('the tap saw notifications on it'),
    });
  });

  it('stays quiet for RPC topics: plain names, names the traffic showed carrying requests, and blanks', () => {
    for (const t of ['compute', 'conductor', 'q-agent-notifier', 'notifier', 'compute.host-1', 'my_notifications_api', '', '   ']) expect(topicWarning(t, none), t).toBeNull();
    // requests seen on it outweigh the name
    expect(topicWarning('notifications', { topics: ['notifications'], notificationTopics: [] })).toBeNull();
    // surrounding blanks are not part of the name
    expect(topicWarning('  notifications ', none)?.reason).toBe('notification');
  });
});
