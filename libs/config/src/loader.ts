import { accessSync, constants, readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { type z } from 'zod';
import { configSchema, type SyncConfig } from './schema';

/** Everything wrong with a configuration file, each problem with its path inside the file. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid configuration ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type Environment = Readonly<Record<string, string | undefined>>;

/** Where the configuration file is named: the one environment variable read outside the file itself. */
export const CONFIG_PATH_VARIABLE = 'IDSYNC_CONFIG';

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces `${NAME}` and `${NAME:-default}` in every string value; secrets reach the file this way. */
export function interpolate(value: unknown, env: Environment, path: string[], problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (_match, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      problems.push(`${formatPath(path)}: environment variable ${name} is not set`);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, env, [...path, String(i)], problems));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, interpolate(item, env, [...path, key], problems)]),
    );
  }
  return value;
}

/** Names of the environment variables a configuration's values refer to (comments don't count). */
export function referencedVariables(text: string): string[] {
  const names = new Set<string>();
  const visit = (value: unknown): void => {
    if (typeof value === 'string') for (const match of value.matchAll(PLACEHOLDER)) names.add(match[1] ?? '');
    else if (Array.isArray(value)) value.forEach(visit);
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(visit);
  };
  visit(parseDocument(text).toJS());
  return [...names].sort();
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' || /^\d+$/.test(String(p)) ? `[${String(p)}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `${formatPath(issue.path)}: unknown key(s) ${issue.keys.join(', ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `${formatPath(issue.path)}: is required`;
  return `${formatPath(issue.path)}: ${issue.message}`;
}

/** Parses and validates configuration text; `file` only names the source in messages. */
export function parseConfig(text: string, file: string, env: Environment): SyncConfig {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => `YAML syntax: ${e.message.split('\n')[0] ?? e.message}`));
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, ['(top level): must be a mapping with kafka, directories and services']);
  }
  const problems: string[] = [];
  const resolved = interpolate(raw, env, [], problems);
  const result = configSchema.safeParse(resolved);
  if (!result.success) {
    // A value left empty by a missing variable is already reported; don't report it twice.
    const unresolved = problems.map((p) => p.slice(0, p.indexOf(': ')));
    problems.push(...result.error.issues.filter((issue) => !unresolved.includes(formatPath(issue.path))).map(describeIssue));
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(file, problems);
  return result.data;
}

/** Reads the configuration named by IDSYNC_CONFIG (or `file`), validated; throws ConfigError. */
export function loadConfig(env: Environment, file = env[CONFIG_PATH_VARIABLE]): { config: SyncConfig; file: string } {
  if (!file) {
    throw new ConfigError('(none)', [`no configuration file: set ${CONFIG_PATH_VARIABLE} to the path of the YAML file`]);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [`cannot read the file: ${(error as NodeJS.ErrnoException).code ?? String(error)}`]);
  }
  const config = parseConfig(text, file, env);
  const unreadable = unreadableFiles(config);
  if (unreadable.length > 0) throw new ConfigError(file, unreadable);
  return { config, file };
}

/**
 * The files the configuration names (CA certificates) that cannot be read, as problems: found at start, they stop
 * the service before it connects anywhere, instead of failing every connection later with an unexpected error.
 */
export function unreadableFiles(config: SyncConfig, canRead: (path: string) => string | null = readable): string[] {
  const files: [string, string | undefined][] = [
    ['kafka.ssl.caFile', config.kafka.ssl?.caFile],
    ...Object.entries(config.directories).map(([name, dir]): [string, string | undefined] => [`directories.${name}.tls.caFile`, dir.tls.caFile]),
  ];
  return files.flatMap(([where, path]) => {
    if (path === undefined) return [];
    const problem = canRead(path);
    return problem === null ? [] : [`${where}: cannot read ${path} (${problem})`];
  });
}

function readable(path: string): string | null {
  try {
    accessSync(path, constants.R_OK);
    return null;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}
