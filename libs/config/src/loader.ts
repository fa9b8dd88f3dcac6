import { accessSync, constants, readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { type z } from 'zod';
import { configSchema, PROGRAMS, type Program, type SyncConfig } from './schema';

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
  const unset: UnsetVariable[] = [];
  const resolved = resolve(value, env, path, unset);
  problems.push(...unset.map((variable) => unsetProblem(variable)));
  return resolved;
}

/** A `${NAME}` without a value (and without a default), where it is referred to. */
interface UnsetVariable {
  readonly path: readonly string[];
  readonly name: string;
}

function unsetProblem({ path, name }: UnsetVariable, reader?: ConfigReader): string {
  return `${formatPath(path)}: environment variable ${name} is not set${reader === undefined ? '' : ` (${reader} needs it)`}`;
}

function resolve(value: unknown, env: Environment, path: string[], unset: UnsetVariable[]): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (_match, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      unset.push({ path, name });
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => resolve(item, env, [...path, String(i)], unset));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolve(item, env, [...path, key], unset)]));
  }
  return value;
}

/**
 * Who loads the configuration. Every program reads the same file, but each is given (a Kubernetes Secret per
 * service) only the credentials it uses: a program's own credentials must be set, the others' may be absent.
 * Without a reader (validate-config without --service), every credential must be set.
 */
export type ConfigReader = Program;
export const CONFIG_READERS: readonly ConfigReader[] = PROGRAMS;

export interface LoadOptions {
  /** The program starting; default: none, every credential is required. */
  readonly reader?: ConfigReader | undefined;
}

/**
 * The value a credential field gets when its variable is not set and the program loading the configuration does not
 * use it. It passes validation (the field keeps its type) and can never be used: openLdapSession (libs/platform)
 * refuses to bind with it, naming the variable.
 */
const WITHHELD_PREFIX = '\u0000idsync-withheld:';

/** The variable(s) a withheld credential stands for (`A, B`), or undefined for a real value. */
export function withheldVariable(value: string | undefined): string | undefined {
  return value?.startsWith(WITHHELD_PREFIX) ? value.slice(WITHHELD_PREFIX.length) : undefined;
}

type CredentialField =
  | { readonly kind: 'directory'; readonly directory: string }
  | { readonly kind: 'writer'; readonly writer: 'ad-writer' | 'ds-writer' }
  | { readonly kind: 'keyring'; readonly keyring: 'passwordKeys' | 'operationKeys' }
  | { readonly kind: 'kafka'; readonly program: string };

/**
 * The fields that hold credentials, which a program may be denied: directory and writer bind passwords, the keys of
 * both keyrings, the programs' own Kafka passwords. Everything else (URLs, DNs, a Kafka password every program shares)
 * is always required.
 */
function credentialField(path: readonly string[]): CredentialField | null {
  const [first, second, third, fourth, fifth] = path;
  if (path.length === 5 && first === 'kafka' && second === 'sasl' && third === 'principals' && fourth !== undefined && fifth === 'password') return { kind: 'kafka', program: fourth };
  if (path.length === 3 && first === 'directories' && second !== undefined && third === 'bindPassword') return { kind: 'directory', directory: second };
  if (path.length === 3 && first === 'services' && (second === 'ad-writer' || second === 'ds-writer') && third === 'bindPassword') return { kind: 'writer', writer: second };
  if (path.length === 5 && first === 'secrets' && (second === 'passwordKeys' || second === 'operationKeys') && third === 'keys' && fifth === 'key') return { kind: 'keyring', keyring: second };
  return null;
}

const DETECTORS = ['ad-detector', 'ds-detector'] as const;
const WRITERS = ['ad-writer', 'ds-writer'] as const;

/**
 * Whether `reader` uses a credential field before it connects anywhere (see the services' main.ts):
 * - a detector binds to its source directory with the directory's account; the ds-detector seals passwords;
 * - the mapper signs write requests and binds sealed passwords to their destination (operation keys only);
 * - a writer binds with its own account (else the destination directory's), opens passwords and verifies requests;
 * - the password agent seals (it reads AD through the DC's privileged socket, with no bind password);
 * - the CLI signs what resync and dlq redrive send; it binds to a directory only in the commands that read one,
 *   and a directory password it was not given is reported then, naming the variable.
 */
function uses(reader: ConfigReader, field: CredentialField, resolved: unknown): boolean {
  const services = (resolved as { services?: Record<string, Record<string, unknown> | undefined> } | null)?.services ?? {};
  switch (field.kind) {
    case 'kafka':
      return reader === field.program;
    case 'keyring':
      if (field.keyring === 'passwordKeys') return reader === 'ds-detector' || reader === 'password-agent' || isWriter(reader);
      return reader === 'mapper' || reader === 'cli' || isWriter(reader);
    case 'writer':
      return reader === field.writer;
    case 'directory': {
      const block = services[reader];
      if (isDetector(reader)) return typeof block?.['source'] !== 'string' || block['source'] === field.directory;
      if (isWriter(reader)) {
        if (typeof block?.['destination'] !== 'string') return true;
        return block['destination'] === field.directory && (block['bindDn'] === undefined || block['bindDn'] === '');
      }
      return false;
    }
  }
}

function isDetector(reader: ConfigReader): reader is (typeof DETECTORS)[number] {
  return (DETECTORS as readonly string[]).includes(reader);
}

function isWriter(reader: ConfigReader): reader is (typeof WRITERS)[number] {
  return (WRITERS as readonly string[]).includes(reader);
}

/**
 * Puts aside the credentials `reader` does not use and whose variables are not set: a bind password becomes the
 * withheld marker, a keyring with a key missing is left out (and without operation keys, signOperations is off: the
 * program neither signs nor verifies). Returns the unset variables that remain problems, and the withheld ones.
 */
function withhold(resolved: unknown, unset: readonly UnsetVariable[], reader: ConfigReader): { problems: UnsetVariable[]; withheld: string[] } {
  const problems: UnsetVariable[] = [];
  const byField = new Map<string, { field: CredentialField; path: readonly string[]; names: string[] }>();
  for (const variable of unset) {
    const field = credentialField(variable.path);
    if (field === null || uses(reader, field, resolved)) {
      problems.push(variable);
      continue;
    }
    const key = variable.path.join('\u0000');
    const entry = byField.get(key) ?? { field, path: variable.path, names: [] };
    entry.names.push(variable.name);
    byField.set(key, entry);
  }
  const root = resolved as Record<string, unknown>;
  for (const { field, path, names } of byField.values()) {
    if (field.kind === 'keyring') {
      const secrets = root['secrets'] as Record<string, unknown>;
      delete secrets[field.keyring];
      if (field.keyring === 'operationKeys') secrets['signOperations'] = false;
    } else {
      const parent = path.slice(0, -1).reduce<Record<string, unknown>>((node, step) => node[step] as Record<string, unknown>, root);
      parent[path[path.length - 1] as string] = `${WITHHELD_PREFIX}${names.join(', ')}`;
    }
  }
  return { problems, withheld: [...new Set([...byField.values()].flatMap((entry) => entry.names))].sort() };
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

/** A validated configuration, and the credentials put aside because the reader does not use them (variable names). */
export interface LoadedConfig {
  readonly config: SyncConfig;
  readonly withheld: readonly string[];
}

/**
 * Parses and validates configuration text; `file` only names the source in messages. With a reader, a credential
 * that program does not use may be unset (see LoadOptions); one it uses must be set.
 */
export function parseConfig(text: string, file: string, env: Environment, options: LoadOptions = {}): SyncConfig {
  return parseConfigFor(text, file, env, options).config;
}

/** parseConfig, also telling which credentials were withheld. */
export function parseConfigFor(text: string, file: string, env: Environment, options: LoadOptions = {}): LoadedConfig {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => `YAML syntax: ${e.message.split('\n')[0] ?? e.message}`));
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, ['(top level): must be a mapping with kafka, directories and services']);
  }
  const unset: UnsetVariable[] = [];
  const resolved = resolve(raw, env, [], unset);
  const { reader } = options;
  const { problems: missing, withheld } = reader === undefined ? { problems: unset, withheld: [] } : withhold(resolved, unset, reader);
  const problems = missing.map((variable) => unsetProblem(variable, credentialField(variable.path) === null ? undefined : reader));
  const result = configSchema.safeParse(resolved);
  if (!result.success) {
    // A value left empty by a missing variable is already reported; don't report it twice.
    const unresolved = missing.map((variable) => formatPath(variable.path));
    problems.push(...result.error.issues.filter((issue) => !unresolved.includes(formatPath(issue.path))).map(describeIssue));
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(file, problems);
  return { config: result.data, withheld };
}

/**
 * Reads the configuration named by IDSYNC_CONFIG (or `file`), validated; throws ConfigError. A service passes its
 * name (`reader`): the credentials it does not use need not be in its environment (`withheld` lists those absent).
 */
export function loadConfig(env: Environment, file = env[CONFIG_PATH_VARIABLE], options: LoadOptions = {}): { config: SyncConfig; file: string; withheld: readonly string[] } {
  if (!file) {
    throw new ConfigError('(none)', [`no configuration file: set ${CONFIG_PATH_VARIABLE} to the path of the YAML file`]);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [`cannot read the file: ${(error as NodeJS.ErrnoException).code ?? String(error)}`]);
  }
  const { config, withheld } = parseConfigFor(text, file, env, options);
  const unreadable = unreadableFiles(config);
  if (unreadable.length > 0) throw new ConfigError(file, unreadable);
  return { config, file, withheld };
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
