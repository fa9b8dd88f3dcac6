import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { ConfigError, parseConfigFor, referencedVariables, SERVICE_NAMES, withheldVariable, type ConfigReader, type ServiceName, type SyncConfig } from '@idsync/config';

/** Offline checks of docker-compose.yml and k8s/: they can't run here (no container engine), so they are read. */
const ROOT = join(__dirname, '..', '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

type Doc = Record<string, any>;
const k8sDocs = (file: string): Doc[] => parseAllDocuments(read(`k8s/${file}`)).map((d) => d.toJS() as Doc).filter(Boolean);

const CONTAINER_CONFIG = read('k8s/idsync-config.yaml');
const REFERENCED = referencedVariables(CONTAINER_CONFIG);

/** The credentials each program uses (services' main.ts, libs/config's loader), so the only ones its pod is given. */
const CREDENTIALS: Record<ServiceName | 'cli', readonly string[]> = {
  'ad-detector': ['AD_BIND_PASSWORD'],
  'ds-detector': ['DS_BIND_PASSWORD', 'IDSYNC_PASSWORD_KEY_K1'],
  mapper: ['IDSYNC_OPERATION_KEY_O1'],
  'ad-writer': ['AD_WRITER_PASSWORD', 'IDSYNC_OPERATION_KEY_O1', 'IDSYNC_PASSWORD_KEY_K1'],
  'ds-writer': ['DS_WRITER_PASSWORD', 'IDSYNC_OPERATION_KEY_O1', 'IDSYNC_PASSWORD_KEY_K1'],
  cli: ['AD_BIND_PASSWORD', 'DS_BIND_PASSWORD', 'IDSYNC_OPERATION_KEY_O1'],
};
const ALL_CREDENTIALS = [...new Set(Object.values(CREDENTIALS).flat())].sort();
const isCredential = (name: string): boolean => /PASSWORD$/.test(name) || /^IDSYNC_(PASSWORD|OPERATION)_KEY_/.test(name);

/** A value the configuration accepts for a variable (keys must be base64 of 32 bytes). */
function placeholder(name: string): string {
  if (/^IDSYNC_(PASSWORD|OPERATION)_KEY_/.test(name)) return Buffer.alloc(32, 7).toString('base64');
  if (name.endsWith('_URL')) return 'ldaps://directory.example:636';
  if (name.endsWith('_DN')) return 'dc=example,dc=org';
  return `${name.toLowerCase()}-value`;
}

/** The container configuration, resolved with placeholder values for every variable it refers to. */
function containerConfig(): SyncConfig {
  const env = Object.fromEntries(REFERENCED.map((name) => [name, placeholder(name)]));
  env['KAFKA_BROKERS'] = 'kafka:9092';
  return parseConfigFor(CONTAINER_CONFIG, 'k8s/idsync-config.yaml', env).config;
}

/** `image` is pinned by digest (the tag, if any, only informs). */
const PINNED = /^[a-z0-9][a-z0-9._/-]*(:[\w.-]+)?@sha256:[0-9a-f]{64}$/;

describe('container configuration', () => {
  it('is a valid configuration that listens on all interfaces', () => {
    expect(containerConfig().http.host).toBe('0.0.0.0');
  });

  it('refers to the same variables as the local demo configuration', () => {
    expect(REFERENCED).toEqual(referencedVariables(read('config/demo.yaml')));
  });

  it('refers to exactly the credentials the programs are given', () => {
    expect(REFERENCED.filter(isCredential)).toEqual(ALL_CREDENTIALS);
  });
});

describe('Dockerfile', () => {
  it('runs as a numeric non-root user, the one the pods and compose run as', () => {
    const users = [...read('Dockerfile').matchAll(/^USER\s+(\S+)\s*$/gm)].map((m) => m[1]);
    expect(users.at(-1)).toBe('1000:1000');
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as Doc;
  const config = containerConfig();
  const services = compose['services'] as Record<string, Doc>;

  it('runs Kafka and each of the five services', () => {
    expect(Object.keys(services).sort()).toEqual(['kafka', ...SERVICE_NAMES].sort());
  });

  it.each(SERVICE_NAMES)('gives %s the config file, the settings, only its own credentials, and a health check on its port', (name) => {
    const service = services[name] as Doc;
    expect(service['build']['args']['SERVICE']).toBe(name);
    expect(service['environment']['IDSYNC_CONFIG']).toBe('/etc/idsync/config.yaml');
    expect(service['volumes']).toContain('./k8s/idsync-config.yaml:/etc/idsync/config.yaml:ro');
    const variables = Object.keys(service['environment'] as Doc);
    expect(variables).toEqual(expect.arrayContaining(REFERENCED.filter((v) => !isCredential(v))));
    expect(variables.filter(isCredential).sort()).toEqual([...CREDENTIALS[name]].sort());
    expect(JSON.stringify(service['healthcheck']['test'])).toContain(`:${config.services[name].httpPort}/health`);
  });

  it.each(['kafka', ...SERVICE_NAMES])('runs %s as uid 1000, read-only, without capabilities or privilege escalation', (name) => {
    const service = services[name] as Doc;
    expect(service['user']).toBe('1000:1000');
    expect(service['read_only']).toBe(true);
    expect(service['tmpfs']).toContain('/tmp');
    expect(service['cap_drop']).toEqual(['ALL']);
    expect(service['cap_add']).toBeUndefined();
    expect(service['privileged']).toBeUndefined();
    expect(service['security_opt']).toContain('no-new-privileges:true');
  });

  it('pins every image it pulls by digest (a digest .env must give), and builds the services from this checkout', () => {
    const kafka = services['kafka'] as Doc;
    expect(kafka['image']).toMatch(/^apache\/kafka:[\w.-]+@\$\{KAFKA_IMAGE_DIGEST:\?[^}]+\}$/);
    for (const name of SERVICE_NAMES) {
      expect(services[name]?.['image']).toBeUndefined();
      expect(services[name]?.['build']).toBeDefined();
    }
    for (const [name, service] of Object.entries(services)) if (service['image'] !== undefined && name !== 'kafka') expect(service['image']).toMatch(PINNED);
  });

  it('keeps Kafka data on the volume, not in the image default /tmp', () => {
    const kafka = services['kafka'] as Doc;
    expect(kafka['environment']['KAFKA_LOG_DIRS']).toMatch(/^\/var\/lib\/kafka\/data\//);
    expect(kafka['volumes']).toContain('kafka-data:/var/lib/kafka/data');
  });
});

describe('k8s manifests', () => {
  const kustomization = parse(read('k8s/kustomization.yaml')) as Doc;
  const resources = (kustomization['resources'] as string[]).flatMap(k8sDocs);
  const examples = k8sDocs('secret.example.yaml');
  const [job] = k8sDocs('ops/resync-job.example.yaml') as [Doc];
  const config = containerConfig();
  const settings = resources.find((d) => d['kind'] === 'ConfigMap' && d['metadata']['name'] === 'idsync-settings') as Doc;
  const ofKind = (kind: string): Doc[] => resources.filter((d) => d['kind'] === kind);
  const deployment = (name: string): Doc => ofKind('Deployment').find((d) => d['metadata']['name'] === `idsync-${name}`) as Doc;
  const workloads = [...ofKind('Deployment'), ...ofKind('StatefulSet')];
  const policies = ofKind('NetworkPolicy');
  const policy = (name: string): Doc => policies.find((p) => p['metadata']['name'] === name) as Doc;
  const kafkaPort = (ofKind('Service').find((s) => s['metadata']['name'] === 'idsync-kafka') as Doc)['spec']['ports'][0]['port'] as number;

  /** The variables a pod's container gets from Secrets: name -> [secret, key]. */
  const secretVariables = (container: Doc): Record<string, [string, string]> =>
    Object.fromEntries(
      (container['env'] as Doc[]).filter((e) => e['valueFrom']?.['secretKeyRef']).map((e) => [e['name'], [e['valueFrom']['secretKeyRef']['name'], e['valueFrom']['secretKeyRef']['key']]]),
    );

  it('lists only files that exist and parse, and builds the config map from the container configuration', () => {
    expect(resources.length).toBeGreaterThan(5);
    expect(kustomization['resources']).toEqual(expect.arrayContaining(['network-policies.yaml', 'disruption-budgets.yaml']));
    expect(kustomization['configMapGenerator'][0]).toEqual({ name: 'idsync-config', files: ['config.yaml=idsync-config.yaml'] });
  });

  it('enforces the restricted Pod Security Standard on the namespace (audit and warn too)', () => {
    const namespace = ofKind('Namespace')[0] as Doc;
    expect(namespace['metadata']['name']).toBe(kustomization['namespace']);
    expect(namespace['metadata']['labels']).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/audit': 'restricted',
      'pod-security.kubernetes.io/warn': 'restricted',
    });
  });

  it('keeps credentials in the Secrets and everything else in the settings map', () => {
    const secrets = examples.filter((d) => d['kind'] === 'Secret');
    const secretKeys = secrets.flatMap((s) => Object.keys(s['stringData'] as Doc));
    expect(secretKeys.every(isCredential)).toBe(true);
    expect(Object.keys(settings['data']).some(isCredential)).toBe(false);
    expect([...Object.keys(settings['data']), ...secretKeys].sort()).toEqual(expect.arrayContaining(REFERENCED));
  });

  it('has one Secret per program with exactly the credentials it uses, and no shared one', () => {
    const secrets = examples.filter((d) => d['kind'] === 'Secret');
    expect(secrets.map((s) => s['metadata']['name']).sort()).toEqual(Object.keys(CREDENTIALS).map((name) => `idsync-${name}`).sort());
    for (const [name, keys] of Object.entries(CREDENTIALS)) {
      const secret = secrets.find((s) => s['metadata']['name'] === `idsync-${name}`) as Doc;
      expect(Object.keys(secret['stringData']).sort()).toEqual([...keys].sort());
    }
    // The CA certificates are public: a ConfigMap every service mounts (the configuration names both files).
    expect(examples.find((d) => d['kind'] === 'ConfigMap' && d['metadata']['name'] === 'idsync-ca')?.['data']).toEqual({ 'ad-ca.crt': expect.any(String), 'ds-ca.crt': expect.any(String) });
  });

  it.each(SERVICE_NAMES)('deploys %s with its port, probes, config mount and environment', (name) => {
    const pod = deployment(name)['spec']['template']['spec'];
    const container = pod['containers'][0];
    expect(container['ports'][0]['containerPort']).toBe(config.services[name].httpPort);
    expect(container['readinessProbe']['httpGet']['path']).toBe('/health');
    expect(container['livenessProbe']['httpGet']['path']).toBe('/health/live');
    expect(container['env']).toContainEqual({ name: 'IDSYNC_CONFIG', value: '/etc/idsync/config.yaml' });
    expect(container['envFrom']).toEqual([{ configMapRef: { name: 'idsync-settings' } }]);
    expect(pod['volumes']).toContainEqual({ name: 'config', configMap: { name: 'idsync-config' } });
    expect(pod['volumes']).toContainEqual({ name: 'ca', configMap: { name: 'idsync-ca' } });
    if (name.endsWith('detector')) expect(deployment(name)['spec']).toMatchObject({ replicas: 1, strategy: { type: 'Recreate' } });
  });

  it.each(SERVICE_NAMES)('gives %s only its own Secret, with exactly the keys it uses', (name) => {
    const pod = deployment(name)['spec']['template']['spec'];
    const container = pod['containers'][0];
    const variables = secretVariables(container);
    expect(Object.keys(variables).sort()).toEqual([...CREDENTIALS[name]].sort());
    for (const [variable, [secret, key]] of Object.entries(variables)) expect([secret, key]).toEqual([`idsync-${name}`, variable]);
    expect((container['envFrom'] as Doc[]).filter((source) => source['secretRef'])).toEqual([]);
    expect((pod['volumes'] as Doc[]).filter((volume) => volume['secret'] || volume['projected'])).toEqual([]);
    if (name === 'mapper') expect(Object.keys(variables).filter((v) => v.endsWith('PASSWORD') || v.startsWith('IDSYNC_PASSWORD_KEY_'))).toEqual([]);
  });

  it.each([...SERVICE_NAMES, 'cli' as const])('starts %s with its Secret and the settings, and not with one of its credentials fewer', (name) => {
    const container = name === 'cli' ? job['spec']['template']['spec']['containers'][0] : deployment(name)['spec']['template']['spec']['containers'][0];
    const given = Object.keys(secretVariables(container));
    const env = (without?: string): Record<string, string> => ({
      ...(settings['data'] as Record<string, string>),
      ...Object.fromEntries(given.filter((v) => v !== without).map((v) => [v, placeholder(v)])),
    });
    const reader: ConfigReader = name;
    expect(parseConfigFor(CONTAINER_CONFIG, 'k8s/idsync-config.yaml', env(), { reader }).withheld).toEqual(ALL_CREDENTIALS.filter((v) => !given.includes(v)));
    for (const variable of given) {
      if (name === 'cli' && variable.endsWith('_BIND_PASSWORD')) {
        // The CLI needs a directory password only in the commands that bind there (refused then, naming it).
        const { config: loaded } = parseConfigFor(CONTAINER_CONFIG, 'k8s/idsync-config.yaml', env(variable), { reader });
        expect(Object.values(loaded.directories).map((d) => withheldVariable(d.bindPassword))).toContain(variable);
        continue;
      }
      expect(() => parseConfigFor(CONTAINER_CONFIG, 'k8s/idsync-config.yaml', env(variable), { reader })).toThrow(ConfigError);
      expect(() => parseConfigFor(CONTAINER_CONFIG, 'k8s/idsync-config.yaml', env(variable), { reader })).toThrow(`environment variable ${variable} is not set (${name} needs it)`);
    }
  });

  describe('every pod (services, Kafka, the ops Job)', () => {
    const pods: [string, Doc][] = [...workloads, job].map((w) => [`${w['kind']} ${w['metadata']['name']}`, w['spec']['template']['spec']]);

    it('covers every workload', () => {
      expect(pods.map(([what]) => what).sort()).toEqual([
        'Deployment idsync-ad-detector',
        'Deployment idsync-ad-writer',
        'Deployment idsync-ds-detector',
        'Deployment idsync-ds-writer',
        'Deployment idsync-mapper',
        'Job idsync-resync-ad-to-ds',
        'StatefulSet idsync-kafka',
      ]);
    });

    it.each(pods)('%s meets the restricted level: non-root uid/gid 1000, RuntimeDefault seccomp, no token', (_what, pod) => {
      expect(pod['securityContext']).toEqual({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod['automountServiceAccountToken']).toBe(false);
      for (const key of ['hostNetwork', 'hostPID', 'hostIPC']) expect(pod[key]).toBeUndefined();
      expect((pod['volumes'] as Doc[]).filter((volume) => volume['hostPath'])).toEqual([]);
    });

    it.each(pods)('%s: every container drops all capabilities, cannot escalate, has a read-only root and a writable /tmp', (_what, pod) => {
      const containers = [...((pod['initContainers'] as Doc[] | undefined) ?? []), ...(pod['containers'] as Doc[])];
      const emptyDirs = (pod['volumes'] as Doc[]).filter((volume) => volume['emptyDir'] !== undefined).map((volume) => volume['name']);
      for (const container of containers) {
        expect(container['securityContext']).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        expect(container['image']).toMatch(PINNED);
      }
      for (const container of pod['containers'] as Doc[]) {
        const tmp = (container['volumeMounts'] as Doc[]).find((mount) => mount['mountPath'] === '/tmp');
        expect(emptyDirs).toContain(tmp?.['name']);
      }
    });
  });

  it('pins every image by digest, init containers included', () => {
    const images = [...workloads, job].flatMap((w) => [...(w['spec']['template']['spec']['initContainers'] ?? []), ...w['spec']['template']['spec']['containers']].map((c: Doc) => c['image'] as string));
    expect(images.length).toBe(8);
    for (const image of images) expect(image).toMatch(PINNED);
    // Every image reference anywhere under k8s/ (comments aside) is one of these.
    const all = ['kafka.yaml', 'services.yaml', 'ops/resync-job.example.yaml'].flatMap((file) => [...read(`k8s/${file}`).matchAll(/^\s*image:\s*(\S+)/gm)].map((m) => m[1]));
    expect(all.sort()).toEqual([...images].sort());
  });

  it('keeps Kafka data on its volume, not in the image default /tmp, and the writable paths on emptyDirs', () => {
    const kafka = ofKind('StatefulSet')[0]?.['spec']['template']['spec'] as Doc;
    const container = kafka['containers'][0];
    const logDirs = (container['env'] as Doc[]).find((e) => e['name'] === 'KAFKA_LOG_DIRS')?.['value'];
    const mounts = Object.fromEntries((container['volumeMounts'] as Doc[]).map((m) => [m['mountPath'], m['name']]));
    expect(logDirs).toMatch(/^\/var\/lib\/kafka\/data\//);
    expect(mounts['/var/lib/kafka/data']).toBe(ofKind('StatefulSet')[0]?.['spec']['volumeClaimTemplates'][0]['metadata']['name']);
    for (const path of ['/opt/kafka/config', '/opt/kafka/logs', '/tmp']) expect((kafka['volumes'] as Doc[]).find((v) => v['name'] === mounts[path])?.['emptyDir']).toEqual({});
  });

  describe('network policies', () => {
    const directoryOf = (name: ServiceName): string | null => {
      const block = config.services[name] as { source?: string; destination?: string };
      return block.source ?? block.destination ?? null;
    };
    /** The settings' URL of a directory: its port is the one to allow (the address is a placeholder in the policy). */
    const directoryPort = (directory: string): number => {
      const settingsEnv = settings['data'] as Record<string, string>;
      const resolved = parseConfigFor(CONTAINER_CONFIG, 'settings', { ...settingsEnv, ...Object.fromEntries(ALL_CREDENTIALS.map((v) => [v, placeholder(v)])) }).config;
      return Number(new URL(resolved.directories[directory]?.urls[0] ?? '').port || 636);
    };
    const kafkaRule = (rule: Doc): boolean =>
      JSON.stringify(rule['to']) === JSON.stringify([{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'idsync-kafka' } } }]) &&
      JSON.stringify(rule['ports']) === JSON.stringify([{ protocol: 'TCP', port: kafkaPort }]);
    const ipRules = (p: Doc): Doc[] => (p['spec']['egress'] as Doc[]).filter((rule) => (rule['to'] as Doc[]).some((peer) => peer['ipBlock']));

    it('deny everything by default, in and out', () => {
      expect(policy('default-deny')['spec']).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    });

    it('let every pod resolve names at kube-dns, and nothing else', () => {
      expect(policy('allow-dns')['spec']).toEqual({
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
            ports: [
              { protocol: 'UDP', port: 53 },
              { protocol: 'TCP', port: 53 },
            ],
          },
        ],
      });
    });

    it.each(SERVICE_NAMES)('let %s reach Kafka and its directory only, and be reached on its port from monitoring only', (name) => {
      const p = policy(`idsync-${name}`)['spec'];
      expect(p['podSelector']).toEqual({ matchLabels: deployment(name)['spec']['selector']['matchLabels'] });
      expect(p['policyTypes']).toEqual(['Ingress', 'Egress']);
      expect(p['ingress']).toEqual([{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ protocol: 'TCP', port: config.services[name].httpPort }] }]);
      const egress = p['egress'] as Doc[];
      expect(egress.filter(kafkaRule)).toHaveLength(1);
      const directory = directoryOf(name);
      const ips = ipRules(policy(`idsync-${name}`));
      if (directory === null) {
        expect(egress).toHaveLength(1);
      } else {
        expect(egress).toHaveLength(2);
        expect(ips).toHaveLength(1);
        expect(ips[0]?.['ports']).toEqual([{ protocol: 'TCP', port: directoryPort(directory) }]);
      }
    });

    it('give the services of one directory the same addresses, and the two directories different ones', () => {
      const cidrs = (name: string): string[] => ipRules(policy(name)).flatMap((rule) => (rule['to'] as Doc[]).map((peer) => peer['ipBlock']['cidr'] as string));
      expect(cidrs('idsync-ad-detector')).toEqual(cidrs('idsync-ad-writer'));
      expect(cidrs('idsync-ds-detector')).toEqual(cidrs('idsync-ds-writer'));
      expect(cidrs('idsync-ad-detector')).not.toEqual(cidrs('idsync-ds-detector'));
      expect(cidrs('idsync-cli').sort()).toEqual([...cidrs('idsync-ad-detector'), ...cidrs('idsync-ds-detector')].sort());
      expect(config.services['ad-detector'].source).toBe(config.services['ad-writer'].destination);
      expect(config.services['ds-detector'].source).toBe(config.services['ds-writer'].destination);
    });

    it('let only the idsync services and the CLI Jobs reach Kafka, on its broker port', () => {
      const p = policy('idsync-kafka')['spec'];
      expect(p['podSelector']).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'idsync-kafka' } });
      expect(p['policyTypes']).toEqual(['Ingress', 'Egress']);
      expect(p['egress']).toEqual([]);
      expect(p['ingress']).toHaveLength(1);
      expect(p['ingress'][0]['ports']).toEqual([{ protocol: 'TCP', port: kafkaPort }]);
      const [services, cli] = p['ingress'][0]['from'] as Doc[];
      expect(services?.['podSelector']['matchExpressions']).toEqual([{ key: 'app.kubernetes.io/name', operator: 'In', values: SERVICE_NAMES.map((n) => `idsync-${n}`) }]);
      expect(cli).toEqual({ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'cli' } } });
      expect(job['spec']['template']['metadata']['labels']['app.kubernetes.io/component']).toBe('cli');
      expect(settings['data']['KAFKA_BROKERS']).toBe(`idsync-kafka:${kafkaPort}`);
    });

    it('let the CLI Job reach Kafka and both directories, and nothing reach it', () => {
      const p = policy('idsync-cli')['spec'];
      expect(p['podSelector']).toEqual({ matchLabels: { 'app.kubernetes.io/component': 'cli' } });
      expect(p['ingress']).toEqual([]);
      expect((p['egress'] as Doc[]).filter(kafkaRule)).toHaveLength(1);
      expect(ipRules(policy('idsync-cli'))).toHaveLength(2);
    });
  });

  it('give every Deployment and StatefulSet a disruption budget that still lets a node drain', () => {
    const budgets = ofKind('PodDisruptionBudget');
    expect(workloads).toHaveLength(6);
    for (const workload of workloads) {
      const labels = workload['spec']['template']['metadata']['labels'] as Record<string, string>;
      const matching = budgets.filter((b) => Object.entries(b['spec']['selector']['matchLabels'] as Record<string, string>).every(([k, v]) => labels[k] === v));
      expect(matching).toHaveLength(1);
      const spec = matching[0]?.['spec'] as Doc;
      if (spec['minAvailable'] !== undefined) expect(spec['minAvailable']).toBeLessThan(workload['spec']['replicas']);
      else expect(spec['maxUnavailable']).toBe(1);
    }
  });

  it('runs a resync as a Job from the same image and configuration, with the CLI Secret', () => {
    const pod = job['spec']['template']['spec'];
    const container = pod['containers'][0];
    expect(job['kind']).toBe('Job');
    expect(container['command'].slice(0, 4)).toEqual(['idsync', 'resync', '--pipe', config.pipes[0]?.name]);
    expect(container['image']).toBe(deployment('mapper')['spec']['template']['spec']['containers'][0]['image']);
    expect(container['env']).toContainEqual({ name: 'IDSYNC_CONFIG', value: '/etc/idsync/config.yaml' });
    expect(container['envFrom']).toEqual([{ configMapRef: { name: 'idsync-settings' } }]);
    const variables = secretVariables(container);
    expect(Object.keys(variables).sort()).toEqual([...CREDENTIALS.cli].sort());
    for (const [variable, [secret, key]] of Object.entries(variables)) expect([secret, key]).toEqual(['idsync-cli', variable]);
    expect(pod['volumes']).toContainEqual({ name: 'config', configMap: { name: 'idsync-config' } });
    // The image that runs the services has the command (Dockerfile).
    expect(read('Dockerfile')).toMatch(/ln -s \/app\/services\/cli\/bin\/idsync \/usr\/local\/bin\/idsync/);
  });
});
