import { accessSync, constants, closeSync, openSync, readSync } from 'node:fs';
import { basename, delimiter, isAbsolute, join } from 'node:path';

/** The file a command name runs (an absolute path as is, otherwise the first executable match on PATH), or null. */
export function resolveExecutable(tool: string, path = process.env['PATH'] ?? ''): string | null {
  const candidates = isAbsolute(tool)
    ? [tool]
    : path
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, tool));
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not this one
    }
  }
  return null;
}

/**
 * The Python interpreter named by a script's first line (`#! /usr/bin/python3`, `#!/usr/bin/env python3`), or
 * null when the line names none.
 */
export function interpreterFromShebang(firstLine: string): string | null {
  const match = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(firstLine);
  if (!match?.[1]) return null;
  const program = basename(match[1]) === 'env' ? match[2] : match[1];
  return program !== undefined && /python/.test(basename(program)) ? program : null;
}

/**
 * The Python that runs samba-tool: the only one sure to have Samba's modules (ldb, samba). Another `python3` on
 * PATH (pyenv, a virtualenv) usually has not.
 */
export function sambaPython(sambaTool: string): string {
  const file = resolveExecutable(sambaTool);
  if (file === null) return 'python3';
  const head = Buffer.alloc(256);
  let read: number;
  try {
    const fd = openSync(file, 'r');
    try {
      read = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return 'python3';
  }
  return interpreterFromShebang(head.subarray(0, read).toString('latin1').split('\n')[0] ?? '') ?? 'python3';
}
