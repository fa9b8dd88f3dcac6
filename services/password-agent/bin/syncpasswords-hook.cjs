#!/usr/bin/env node
'use strict';
/*
 * The script `samba-tool user syncpasswords` runs for each changed account (--script, stored in its cache at
 * --cache-ldb-initialize). It reads the account's LDIF on stdin and hands it to the password agent over the
 * agent's Unix socket (IDSYNC_PASSWORD_AGENT_SOCKET, inherited from the agent that started samba-tool), waits for the
 * agent's verdict, and only when the event is safely on Kafka prints `DONE-EXIT:`, which lets samba-tool advance its
 * cache. Anything else (agent gone, publish failed) exits 1: samba-tool stops with its cache unchanged, and the next
 * run reports the same account again. It never prints or logs the LDIF (it holds the password hash).
 */
const net = require('node:net');

const socketPath = process.env.IDSYNC_PASSWORD_AGENT_SOCKET;
if (!socketPath) {
  process.stderr.write('idsync password hook: IDSYNC_PASSWORD_AGENT_SOCKET is not set (run samba-tool through the password agent)\n');
  process.exit(1);
}

const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  const socket = net.createConnection(socketPath);
  let reply = '';
  socket.setTimeout(120000, () => socket.destroy(new Error('timed out waiting for the password agent')));
  socket.on('connect', () => socket.end(Buffer.concat(chunks)));
  socket.on('data', (data) => (reply += data.toString('utf8')));
  socket.on('error', (error) => {
    process.stderr.write(`idsync password hook: ${error.message}\n`);
    process.exit(1);
  });
  socket.on('close', () => {
    const line = reply.split('\n')[0] || '';
    if (line.startsWith('OK')) {
      process.stdout.write(`DONE-EXIT: ${line.slice(2).trim()}\n`);
      process.exit(0);
    }
    process.stderr.write(`idsync password hook: agent refused: ${line.slice(0, 300)}\n`);
    process.exit(1);
  });
});
