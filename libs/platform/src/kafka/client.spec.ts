import { groupSession } from './client';

describe('a consumer group session', () => {
  it("keeps kafkajs' 3 s heartbeat for long sessions and beats three times per session for short ones", () => {
    expect(groupSession(30_000)).toEqual({ sessionTimeout: 30_000, heartbeatInterval: 3_000 });
    expect(groupSession(9_000)).toEqual({ sessionTimeout: 9_000, heartbeatInterval: 3_000 });
    expect(groupSession(6_000)).toEqual({ sessionTimeout: 6_000, heartbeatInterval: 2_000 });
  });
});
