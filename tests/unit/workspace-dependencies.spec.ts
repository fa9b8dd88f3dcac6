import { builtinModules } from 'node:module';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { preProcessFile } from 'typescript';

/**
 * Each workspace (libs/*, services/*) declares in its package.json `dependencies` exactly the packages its source
 * (the non-spec .ts files under src/, which tsc builds into dist/) imports: static, type-only, `export ... from`,
 * dynamic `import('x')` and `require('x')`. The Dockerfile installs a service's production closure from these
 * declarations alone, so a missing one is a module not found in the image; the root package.json declares none.
 */

const ROOT = join(__dirname, '..', '..');

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  workspaces?: string[];
}

/**
 * Packages a workspace needs without importing them: a dependency of its own loads them when the source does
 * something, so the workspace declares them when (and only when) its source does that.
 */
const LOADED_FOR: Record<string, { when: RegExp; why: string }> = {
  '@nestjs/platform-express': { when: /\bNestFactory\.create\(/, why: "NestFactory.create loads Nest's HTTP adapter (@nestjs/core requires it)" },
};

const BUILTINS = new Set(builtinModules);

/** The package an import specifier names, or undefined for a relative path or a Node.js built-in module. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/')) return undefined;
  if (specifier.startsWith('node:') || BUILTINS.has(specifier)) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The packages a source file imports, in any form TypeScript sees (imports, re-exports, import(), require()). */
function importedPackages(source: string): Set<string> {
  const { importedFiles } = preProcessFile(source, true, true);
  return new Set(importedFiles.map((file) => packageOf(file.fileName)).filter((name): name is string => name !== undefined));
}

/** Non-optional peer dependencies of a package as installed (npm installs them with it). */
type PeersOf = (name: string) => string[];

/** What is wrong with a workspace's declared dependencies, one line each; empty when they match its sources. */
function dependencyProblems(manifest: Manifest, sources: Map<string, string>, peersOf: PeersOf): string[] {
  const imported = new Map<string, string>();
  for (const [file, source] of sources) for (const name of importedPackages(source)) if (!imported.has(name)) imported.set(name, file);
  imported.delete(manifest.name);
  const needed = new Map(imported);
  for (const [name, { when, why }] of Object.entries(LOADED_FOR)) {
    const file = [...sources].find(([, source]) => when.test(source))?.[0];
    if (file !== undefined && !needed.has(name)) needed.set(name, `${file} (${why})`);
  }
  const declared = Object.keys(manifest.dependencies ?? {});
  const peers = new Set([...needed.keys()].filter((name) => declared.includes(name)).flatMap(peersOf));
  const problems: string[] = [];
  for (const [name, file] of needed) if (!declared.includes(name)) problems.push(`${manifest.name}: ${file} imports ${name}, not in its dependencies`);
  for (const name of declared) if (!needed.has(name) && !peers.has(name)) problems.push(`${manifest.name}: declares ${name}, which its source never imports`);
  return problems;
}

function readManifest(file: string): Manifest {
  return JSON.parse(readFileSync(file, 'utf8')) as Manifest;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.spec.ts') ? [path] : [];
  });
}

const rootManifest = readManifest(join(ROOT, 'package.json'));
const workspaces = (rootManifest.workspaces ?? []).flatMap((pattern) => {
  const parent = pattern.replace(/\/\*$/, '');
  return readdirSync(join(ROOT, parent))
    .map((entry) => join(parent, entry))
    .filter((dir) => statSync(join(ROOT, dir, 'package.json'), { throwIfNoEntry: false })?.isFile());
});
const manifests = new Map(workspaces.map((dir) => [dir, readManifest(join(ROOT, dir, 'package.json'))]));

/** Peers as the installed package states them, resolved from the workspace as Node.js would. */
const installedPeers =
  (dir: string): PeersOf =>
  (name) => {
    let manifest: Manifest;
    try {
      manifest = readManifest(require.resolve(`${name}/package.json`, { paths: [join(ROOT, dir)] }));
    } catch {
      return []; // a package whose exports hide package.json, or a workspace: no peers to allow
    }
    return Object.keys(manifest.peerDependencies ?? {}).filter((peer) => manifest.peerDependenciesMeta?.[peer]?.optional !== true);
  };

describe('workspace dependencies', () => {
  it('finds the workspaces', () => {
    expect(workspaces).toEqual(expect.arrayContaining(['libs/platform', 'services/mapper', 'services/cli']));
  });

  it.each(workspaces)('%s declares exactly the packages its source imports', (dir) => {
    const sources = new Map(sourceFiles(join(ROOT, dir, 'src')).map((file) => [relative(ROOT, file), readFileSync(file, 'utf8')]));
    expect(dependencyProblems(manifests.get(dir) as Manifest, sources, installedPeers(dir))).toEqual([]);
  });

  it('declares the workspaces it depends on at their exact version (npm looks for a range they miss in the registry)', () => {
    const versions = new Map([...manifests.values()].map((manifest) => [manifest.name, manifest.version]));
    const wrong = [...manifests.values()].flatMap((manifest) =>
      Object.entries(manifest.dependencies ?? {})
        .filter(([name, range]) => versions.has(name) && range !== versions.get(name))
        .map(([name, range]) => `${manifest.name}: ${name}@${range}, the workspace is ${versions.get(name)}`),
    );
    expect(wrong).toEqual([]);
  });

  it('leaves the root package.json without runtime dependencies', () => {
    expect(rootManifest.dependencies ?? {}).toEqual({});
  });
});

describe('dependencyProblems', () => {
  const manifest = (dependencies: Record<string, string>): Manifest => ({ name: '@idsync/example', version: '0.1.0', dependencies });
  const noPeers: PeersOf = () => [];
  const check = (dependencies: Record<string, string>, source: string, peersOf: PeersOf = noPeers): string[] =>
    dependencyProblems(manifest(dependencies), new Map([['src/example.ts', source]]), peersOf);

  it('reports a package imported but not declared, in any form of import', () => {
    for (const source of [
      "import { Client } from 'ldapts';",
      "import { type Client } from 'ldapts';",
      "export { Client } from 'ldapts';",
      "const sdk = await import('ldapts');",
      "type C = import('ldapts').Client;",
      "const ldap = require('ldapts');",
      "import 'ldapts';",
      "import { x } from 'ldapts/lib/x';",
    ])
      expect(check({}, source)).toEqual(['@idsync/example: src/example.ts imports ldapts, not in its dependencies']);
    expect(check({}, "import { Module } from '@nestjs/common/decorators';")).toEqual(['@idsync/example: src/example.ts imports @nestjs/common, not in its dependencies']);
    expect(check({}, "import { openAd } from '@idsync/detector/ad';")).toEqual(['@idsync/example: src/example.ts imports @idsync/detector, not in its dependencies']);
  });

  it('reports a package declared but never imported', () => {
    expect(check({ zod: '^4.6.7', ldapts: '^9.2.0' }, "import { z } from 'zod';")).toEqual(['@idsync/example: declares ldapts, which its source never imports']);
  });

  it('ignores relative paths, Node.js built-ins with or without node:, and the package itself', () => {
    const source = [
      "import { a } from './a';",
      "import { b } from '../b';",
      "import { readFileSync } from 'node:fs';",
      "import { DatabaseSync } from 'node:sqlite';",
      "import { join } from 'path';",
      "import { setTimeout } from 'timers/promises';",
      "import { c } from '@idsync/example';",
    ].join('\n');
    expect(check({}, source)).toEqual([]);
  });

  it('allows a declared peer of an imported dependency, and nothing else unimported', () => {
    const peersOf: PeersOf = (name) => (name === '@nestjs/common' ? ['rxjs', 'reflect-metadata'] : []);
    expect(check({ '@nestjs/common': '^11.2.10', rxjs: '^7.8.2' }, "import { Module } from '@nestjs/common';", peersOf)).toEqual([]);
    expect(check({ '@nestjs/common': '^11.2.10', kafkajs: '^2.2.4' }, "import { Module } from '@nestjs/common';", peersOf)).toEqual([
      '@idsync/example: declares kafkajs, which its source never imports',
    ]);
  });

  it("requires Nest's HTTP adapter where the source creates a Nest application, and only there", () => {
    const create = "import { NestFactory } from '@nestjs/core';\nconst app = await NestFactory.create(AppModule);";
    expect(check({ '@nestjs/core': '^11.2.10' }, create)).toEqual([
      expect.stringMatching(/^@idsync\/example: src\/example\.ts \(NestFactory\.create .*\) imports @nestjs\/platform-express, not in its dependencies$/),
    ]);
    expect(check({ '@nestjs/core': '^11.2.10', '@nestjs/platform-express': '^11.2.10' }, create)).toEqual([]);
    expect(check({ '@nestjs/platform-express': '^11.2.10' }, '')).toEqual(['@idsync/example: declares @nestjs/platform-express, which its source never imports']);
  });
});
