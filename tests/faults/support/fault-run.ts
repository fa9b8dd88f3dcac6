import { type SyncConfig } from '@idsync/config';
import { stackConfig, uniqueSuffix, requireStackServers } from '../../integration/support/stack';
import { Scenario } from '../../integration/support/scenario';
import { canonicalGuid, type EntryLink } from '@idsync/contracts';
import { type Entry, Side } from '../../integration/e2e/directories';
import { eventually, Pipeline, type PipelineOptions, type ReplicaName, sleep } from '../../integration/e2e/pipeline';
import { compareTrees, describeDifference } from './compare';

export interface FaultRunOptions {
  /** How the services start; read when they do (after the case's own earlier beforeAll hooks). */
  readonly pipeline?: () => PipelineOptions | Promise<PipelineOptions>;
  /** For the services' stop and the OU's removal (default 3 minutes): Samba deletes some 50 entries a second. */
  readonly cleanupTimeoutMs?: number;
}

/**
 * One fault case on the demo pipes: the five services started on an isolated configuration, a test OU of its own
 * below OU=Corp (AD) / ou=Corp (389-ds), and, whatever happens, the services stopped, the fault undone
 * (`restore`) and the OU removed at the end. Steps read like the case: create users, break something, wait for
 * them on the other side, compare the two trees in full.
 */
export class FaultRun {
  readonly config: SyncConfig = stackConfig();
  readonly suffix = uniqueSuffix();
  readonly scenario = new Scenario(300_000);
  readonly adCorp: string;
  readonly dsCorp: string;
  readonly ou: string;
  readonly adOu: string;
  readonly dsOu: string;
  pipeline: Pipeline | undefined;
  ad!: Side;
  /** Closed (undefined) while the directory is down; `openDirectory()` opens it again. */
  ds: Side | undefined;

  /**
   * `tag`: two letters naming the case in entry names; `restore`: undoes the fault if a step failed half-way;
   * `options.pipeline`: runs before the services start and gives them options (a proxy in front of a server).
   */
  constructor(
    tag: string,
    private readonly restore: () => Promise<void>,
    options: FaultRunOptions = {},
  ) {
    this.adCorp = `OU=Corp,${this.config.directories['ad']?.baseDn ?? ''}`;
    this.dsCorp = `ou=Corp,${this.config.directories['ds']?.baseDn ?? ''}`;
    this.ou = `${tag}${this.suffix}`;
    this.adOu = `OU=${this.ou},${this.adCorp}`;
    this.dsOu = `ou=${this.ou},${this.dsCorp}`;
    beforeAll(async () => {
      await requireStackServers(this.config);
      this.ad = await Side.open(this.config, 'ad');
      this.ds = await Side.open(this.config, 'ds');
      this.pipeline = await Pipeline.start(this.suffix, 90_000, this.ownOu((await options.pipeline?.()) ?? {}));
    }, 180_000);
    afterAll(async () => {
      await this.restore().catch(() => undefined);
      if (this.pipeline) {
        const crashed = this.pipeline.crashed();
        if (this.scenario.failed || crashed.length > 0) {
          process.stderr.write(`faults ${this.suffix}: crashed: ${crashed.join(', ') || 'none'}\n${this.pipeline.tails(80)}\n`);
        }
        await this.pipeline.stop();
      }
      this.ds ??= await Side.open(this.config, 'ds').catch(() => undefined);
      await this.ad?.deleteTree(this.adOu).catch(() => undefined);
      await this.ds?.deleteTree(this.dsOu).catch(() => undefined);
      await this.ad?.close();
      await this.ds?.close();
    }, options.cleanupTimeoutMs ?? 180_000);
  }

  /**
   * The run's detectors publish only its own OU: cases running side by side never see (and write) each other's
   * entries, and a case sees nothing of the rest of OU=Corp.
   */
  private ownOu(options: PipelineOptions): PipelineOptions {
    const services = options.services ?? {};
    return {
      ...options,
      services: {
        ...services,
        'ad-detector': { includeBaseDns: [this.adOu], ...services['ad-detector'] },
        'ds-detector': { includeBaseDns: [this.dsOu], ...services['ds-detector'] },
      },
    };
  }

  get live(): Pipeline {
    if (!this.pipeline) throw new Error('the services did not start');
    return this.pipeline;
  }

  get directory(): Side {
    if (!this.ds) throw new Error('the directory connection is closed (the directory is down)');
    return this.ds;
  }

  /** The test OU, created in AD and seen in 389-ds: the pipeline works before the fault. */
  async createOu(): Promise<void> {
    await this.ad.add(this.adOu, { objectClass: ['top', 'organizationalUnit'], ou: this.ou });
    await eventually(
      'the OU in 389-ds',
      () => this.directory.read(this.dsOu),
      (e) => e !== null,
      30_000,
    );
  }

  async closeDirectory(): Promise<void> {
    await this.ds?.close();
    this.ds = undefined;
  }

  async openDirectory(): Promise<void> {
    this.ds ??= await Side.open(this.config, 'ds');
  }

  /** `count` users created in AD's test OU, one after the other. */
  async createUsers(count: number, name: string): Promise<void> {
    for (let i = 0; i < count; i++) {
      const sam = `${name.slice(0, 3).toLowerCase()}${i}x${this.suffix}`.slice(0, 20);
      await this.ad.add(`CN=${name} ${i} ${this.suffix},${this.adOu}`, {
        objectClass: ['top', 'person', 'organizationalPerson', 'user'],
        cn: `${name} ${i} ${this.suffix}`,
        sAMAccountName: sam,
        givenName: `${name}${i}`,
        sn: this.suffix,
        mail: `${sam}@example.test`,
      });
    }
  }

  /** The users below the test OU in 389-ds (see `Side.ofClass` for why not an `objectClass` filter). */
  async usersInDirectory(): Promise<number> {
    return (await this.directory.ofClass(this.dsOu, ['inetOrgPerson'], ['1.1'])).size;
  }

  /**
   * Waits until 389-ds holds `count` users below the test OU. While fewer entries than that sit below it (its
   * numSubordinates, a base read), nothing else is read: no subtree search runs while the burst is still arriving.
   */
  async waitForUsersInDirectory(count: number, timeoutMs: number): Promise<void> {
    await eventually(
      `all ${count} users in 389-ds`,
      async () => {
        const below = await this.directory.childCount(this.dsOu);
        return below < count ? { below } : { below, users: await this.usersInDirectory() };
      },
      (seen) => seen.users === count,
      timeoutMs,
      2_000,
    );
  }

  async waitForUsersInAd(count: number, timeoutMs: number): Promise<void> {
    await eventually(
      `all ${count} users in AD`,
      async () => (await this.ad.below(this.adOu, '(&(objectClass=user)(!(objectClass=computer)))', ['1.1'])).size,
      (n) => n === count,
      timeoutMs,
      2_000,
    );
  }

  /**
   * Both directories compared in full below the test OU: nothing lost, nothing extra, nothing different. Compared
   * again for up to `settleMs` while they differ: changes still in flight (a late echo on its way back) settle.
   */
  async expectTreesEqual(entries: number, settleMs = 20_000): Promise<void> {
    const deadline = Date.now() + settleMs;
    for (;;) {
      const diff = await compareTrees(this.ad, this.adOu, this.directory, this.dsOu, this.adCorp, this.dsCorp);
      const differences = diff.lost.length + diff.extra.length + diff.different.length;
      if (differences === 0) {
        expect(diff.matched).toBe(entries);
        return;
      }
      if (Date.now() >= deadline) {
        throw new Error(`the directories differ: ${diff.lost.length} lost, ${diff.extra.length} extra, ${diff.different.length} different\n${describeDifference(diff)}`);
      }
      await sleep(1_000);
    }
  }

  /** The objectGUID of the AD entry at `dn` (canonical text), or null. */
  async guidAt(dn: string): Promise<string | null> {
    const hex = (await this.ad.read(dn, ['objectGUID']))?.['objectguid']?.[0];
    return hex === undefined ? null : canonicalGuid(Buffer.from(hex, 'hex'));
  }

  /** The entryUUID of the directory entry at `dn`, or null. */
  async uuidAt(dn: string): Promise<string | null> {
    return (await this.directory.read(dn, ['entryUUID']))?.['entryuuid']?.[0]?.toLowerCase() ?? null;
  }

  /** The ids `id` is linked to on the run's links topic now (either end, either pipe). */
  async linkedTo(id: string): Promise<string[]> {
    const links: EntryLink[] = [...(await this.live.links()).values()];
    return [...new Set(links.flatMap((l) => (l.source.value === id ? [l.destination.value] : l.destination.value === id ? [l.source.value] : [])))];
  }

  /** Waits until `dn` holds an entry whose description is `description` on that side. */
  async arrives(side: 'ad' | 'ds', dn: string, description: string, timeoutMs = 60_000): Promise<void> {
    const read = (): Promise<Entry | null> => (side === 'ad' ? this.ad : this.directory).read(dn, ['description']);
    await eventually(`${dn} with description '${description}'`, read, (e) => e?.['description']?.[0] === description, timeoutMs, 500);
  }

  /** A service's /health answer (readiness). */
  async health(name: 'ds-writer' | 'ad-writer' | 'mapper' | ReplicaName): Promise<{ status?: string; info?: Record<string, unknown>; error?: Record<string, unknown> }> {
    const response = await fetch(`http://127.0.0.1:${this.live.port(name)}/health`, { signal: AbortSignal.timeout(10_000) });
    return (await response.json()) as { status?: string; info?: Record<string, unknown>; error?: Record<string, unknown> };
  }
}
