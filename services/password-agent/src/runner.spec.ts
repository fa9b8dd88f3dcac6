import { type RecordProducer } from '@idsync/platform';
import { JsonLogger, SecretRedactor } from '@idsync/platform';
import { interpreterFromShebang, type PasswordAgent, type RunReport, SyncPasswordsRunError } from './agent';
import { SyncPosition } from './core';
import { AgentLoop, ldapiSocketPath, parseAgentArguments, sambaPrerequisites } from './runner';

describe('ldapiSocketPath', () => {
  it('reads the socket path of both ldapi URL forms', () => {
    expect(ldapiSocketPath('ldapi:///var/lib/samba/private/ldap_priv/ldapi')).toBe('/var/lib/samba/private/ldap_priv/ldapi');
    expect(ldapiSocketPath('ldapi://%2Fvar%2Flib%2Fsamba%2Fprivate%2Fldap_priv%2Fldapi')).toBe('/var/lib/samba/private/ldap_priv/ldapi');
  });

  it('refuses a URL without an absolute path', () => {
    expect(ldapiSocketPath('ldapi://')).toBeNull();
    expect(ldapiSocketPath('ldapi://relative/socket')).toBeNull();
  });
});

describe('sambaPrerequisites', () => {
  it('names each missing piece: the tool, smb.conf and the ldapi socket', () => {
    const problems = sambaPrerequisites({
      sambaTool: '/nonexistent/samba-tool',
      smbConf: '/nonexistent/smb.conf',
      ldapiUrl: 'ldapi:///nonexistent/ldapi',
    });
    expect(problems).toEqual(expect.arrayContaining(['/nonexistent/samba-tool not found or not executable', 'smb.conf /nonexistent/smb.conf not found', 'ldapi socket /nonexistent/ldapi not found']));
  });

  it('does not take a regular file for the ldapi socket', () => {
    const problems = sambaPrerequisites({ sambaTool: process.execPath, smbConf: __filename, ldapiUrl: `ldapi://${__filename}` });
    expect(problems).toContain(`ldapi socket ${__filename} not found`);
  });
});

describe('parseAgentArguments', () => {
  it('takes --full-pass, and nothing else', () => {
    expect(parseAgentArguments([])).toEqual({ fullPass: false });
    expect(parseAgentArguments(['--full-pass'])).toEqual({ fullPass: true });
    expect(parseAgentArguments(['--fullpass'])).toBeNull();
    expect(parseAgentArguments(['--full-pass', 'extra'])).toBeNull();
  });
});

describe('interpreterFromShebang', () => {
  it('finds the Python samba-tool runs with, directly or through env', () => {
    expect(interpreterFromShebang('#! /usr/bin/python3')).toBe('/usr/bin/python3');
    expect(interpreterFromShebang('#!/usr/bin/python3 -s')).toBe('/usr/bin/python3');
    expect(interpreterFromShebang('#!/usr/bin/env python3')).toBe('python3');
  });

  it('names none for a script of another language or no shebang', () => {
    expect(interpreterFromShebang('#!/bin/sh')).toBeNull();
    expect(interpreterFromShebang('\x7fELF')).toBeNull();
  });
});

describe('AgentLoop', () => {
  const position = SyncPosition.fromCache('dirsync:1:0:0', null);
  const empty = { accounts: 0, published: 0, skipped: {}, durationMs: 1, position: null };
  const quiet = new JsonLogger('password-agent-test', 'error', new SecretRedactor([]), () => undefined);
  const producer = { connect: jest.fn(async () => undefined), disconnect: jest.fn(async () => undefined) } as unknown as RecordProducer;

  /** An agent whose runs are recorded; `runOnce` is replaceable per test. */
  const fakeAgent = (runOnce: () => Promise<RunReport>) => {
    const calls: string[] = [];
    const agent = {
      initialize: jest.fn(async (options: { fullPass?: boolean }) => {
        calls.push(`initialize fullPass=${String(options.fullPass)}`);
        return { mode: options.fullPass ? 'full-pass' : 'resume', position, durationMs: 1 } as const;
      }),
      runOnce: jest.fn(async () => {
        calls.push('run');
        return runOnce();
      }),
      abortRun: jest.fn((): void => void calls.push('abort')),
      close: jest.fn(async () => undefined),
    };
    return { agent, calls };
  };

  it('runs once right after the start, without waiting a poll interval (a change made while it was down goes out at once)', async () => {
    const { agent, calls } = fakeAgent(async () => empty);
    const loop = new AgentLoop(agent as unknown as PasswordAgent, producer, quiet, { pollIntervalMs: 60_000 });
    void loop.start();
    const started = Date.now();
    while (calls.length < 2 && Date.now() - started < 2_000) await new Promise((r) => setTimeout(r, 10));
    expect(calls).toEqual(['initialize fullPass=false', 'run']);
    expect(loop.status()).toMatchObject({ state: 'running', start: 'resume', runs: 1 });
    await loop.stop();
    expect(loop.status().state).toBe('stopped');
  });

  it('is ready once it has its position, while a long first run (a full pass, a burst of changes) goes on', async () => {
    let endRun: (() => void) | undefined;
    const { agent } = fakeAgent(() => new Promise<RunReport>((done) => (endRun = () => done(empty))));
    const loop = new AgentLoop(agent as unknown as PasswordAgent, producer, quiet, { pollIntervalMs: 60_000 });
    expect(loop.status().state).toBe('starting');
    void loop.start();
    while (endRun === undefined) await new Promise((r) => setTimeout(r, 10));
    expect(loop.status()).toMatchObject({ state: 'running', start: 'resume', runs: 0 });
    endRun();
    await loop.stop();
  });

  it('a stop that arrives during a run returns when the run ends, without waiting out the poll interval', async () => {
    let endRun: (() => void) | undefined;
    const { agent } = fakeAgent(() => new Promise<RunReport>((done) => (endRun = () => done(empty))));
    const loop = new AgentLoop(agent as unknown as PasswordAgent, producer, quiet, { pollIntervalMs: 60_000 });
    void loop.start();
    while (endRun === undefined) await new Promise((r) => setTimeout(r, 10));
    const stopping = Date.now();
    const stopped = loop.stop();
    setTimeout(() => endRun?.(), 100);
    await stopped;
    expect(Date.now() - stopping).toBeLessThan(2_000);
    expect(agent.abortRun).not.toHaveBeenCalled();
  });

  it('passes --full-pass to the start', async () => {
    const { agent, calls } = fakeAgent(async () => empty);
    const loop = new AgentLoop(agent as unknown as PasswordAgent, producer, quiet, { pollIntervalMs: 60_000, fullPass: true });
    void loop.start();
    while (calls.length < 2) await new Promise((r) => setTimeout(r, 10));
    expect(calls[0]).toBe('initialize fullPass=true');
    await loop.stop();
  });

  it('on stop, lets the run in flight go on for the grace period, then stops its samba-tool', async () => {
    let endRun: (() => void) | undefined;
    const { agent, calls } = fakeAgent(
      () =>
        new Promise<RunReport>((_, fail) => {
          endRun = () => fail(new SyncPasswordsRunError(null, 'terminated'));
        }),
    );
    agent.abortRun.mockImplementation((): void => {
      calls.push('abort');
      endRun?.();
    });
    const loop = new AgentLoop(agent as unknown as PasswordAgent, producer, quiet, { pollIntervalMs: 60_000, stopGraceMs: 200 });
    void loop.start();
    while (endRun === undefined) await new Promise((r) => setTimeout(r, 10));
    const stopping = Date.now();
    await loop.stop();
    const took = Date.now() - stopping;
    expect(calls).toEqual(['initialize fullPass=false', 'run', 'abort']);
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(2_000);
    expect(loop.status().state).toBe('stopped');
  });
});
