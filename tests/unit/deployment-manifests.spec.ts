import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { ConfigError, parseConfigFor, referencedVariables, SERVICE_NAMES, withheldVariable, type ConfigReader, type ServiceName, type SyncConfig } from '@idsync/config';

/** Offline checks of docker-compose.yml and k8s/: they can't run here (no container engine), so they are read. */
const ROOT = join(__dirname, '..', '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

type Doc = Record<string, any>;
const k8sDocs = (file: string): Doc[] =>
  parseAllDocuments(read(`k8s/${file}`))
    .map((d) => d.toJS() as Doc)
    .filter(Boolean);

const CONTAINER_CONFIG = read('k8s/idsync-config.yaml');
const REFERENCED = referencedVariables(CONTAINER_CONFIG);
/** The container configuration as written (before the schema: what the manifests must agree with). */
const RAW_CONFIG = parse(CONTAINER_CONFIG) as Doc;

type Program = ServiceName | 'cli';
const PROGRAMS: readonly Program[] = [...SERVICE_NAMES, 'cli'];
/** The variable holding a program's Kafka password: KAFKA_MAPPER_PASSWORD, KAFKA_AD_DETECTOR_PASSWORD, ... */
const kafkaPassword = (program: string): string => `KAFKA_${program.toUpperCase().replace(/-/g, '_')}_PASSWORD`;

/** The credentials each program uses (services' main.ts, libs/config's loader), so the only ones its pod is given. */
const CREDENTIALS: Record<Program, readonly string[]> = {
  'ad-detector': ['AD_BIND_PASSWORD', 'KAFKA_AD_DETECTOR_PASSWORD'],
  'ds-detector': ['DS_BIND_PASSWORD', 'IDSYNC_PASSWORD_KEY_K1', 'KAFKA_DS_DETECTOR_PASSWORD'],
  mapper: ['IDSYNC_OPERATION_KEY_O1', 'KAFKA_MAPPER_PASSWORD'],
  'ad-writer': ['AD_WRITER_PASSWORD', 'IDSYNC_OPERATION_KEY_O1', 'IDSYNC_PASSWORD_KEY_K1', 'KAFKA_AD_WRITER_PASSWORD'],
  'ds-writer': ['DS_WRITER_PASSWORD', 'IDSYNC_OPERATION_KEY_O1', 'IDSYNC_PASSWORD_KEY_K1', 'KAFKA_DS_WRITER_PASSWORD'],
  cli: ['AD_BIND_PASSWORD', 'DS_BIND_PASSWORD', 'IDSYNC_OPERATION_KEY_O1', 'KAFKA_CLI_PASSWORD'],
};
const ALL_CREDENTIALS = [...new Set(Object.values(CREDENTIALS).flat())].sort();
const isCredential = (name: string): boolean => /PASSWORD$/.test(name) || /^IDSYNC_(PASSWORD|OPERATION)_KEY_/.test(name);
/** Kafka's TLS and SASL variables, which the local demo (PLAINTEXT Kafka) need not have. */
const isKafkaSecurity = (name: string): boolean => name === 'KAFKA_CA_FILE' || /^KAFKA_[A-Z_]+_PASSWORD$/.test(name);

/** The admin principal's name, and the Secret holding its password: Kafka's super user, which no program is. */
const KAFKA_ADMIN_SECRET = 'idsync-kafka-admin';
/** The ConfigMap of Kafka's server.properties and scripts (kustomization.yaml), and where the pods mount it. */
const KAFKA_CONFIG_MAP = 'idsync-kafka-config';
const KAFKA_CONFIG_DIR = '/etc/kafka/idsync';

/** A Java properties file: key -> value (comments and blank lines skipped; no line continuations are used). */
function properties(text: string): Record<string, string> {
  const entries: [string, string][] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('!')) continue;
    if (trimmed.endsWith('\\')) throw new Error(`line continuation in a properties file: ${trimmed}`);
    const at = trimmed.indexOf('=');
    if (at < 0) throw new Error(`not key=value: ${trimmed}`);
    entries.push([trimmed.slice(0, at).trim(), trimmed.slice(at + 1).trim()]);
  }
  const keys = entries.map(([key]) => key);
  if (new Set(keys).size !== keys.length) throw new Error(`a key set twice: ${keys.filter((k, i) => keys.indexOf(k) !== i).join(', ')}`);
  return Object.fromEntries(entries);
}
const KAFKA_SERVER = properties(read('k8s/kafka-server.properties'));
const KAFKA_START = read('k8s/kafka-start.sh');

/** listeners / advertised.listeners: name -> { host, port } ('' host: every interface). */
function listeners(value: string): Record<string, { host: string; port: number }> {
  return Object.fromEntries(
    value.split(',').map((entry) => {
      const match = /^([A-Za-z0-9_]+):\/\/([^:]*):(\d+)$/.exec(entry.trim());
      if (!match) throw new Error(`not a listener: ${entry}`);
      return [match[1]?.toUpperCase() as string, { host: match[2] as string, port: Number(match[3]) }];
    }),
  );
}
/** A comma-separated map (listener.security.protocol.map): KEY -> VALUE. */
const csvMap = (value: string): Record<string, string> => Object.fromEntries(value.split(',').map((pair) => pair.split(':').map((part) => part.trim()) as [string, string]));
/** IDSYNC_KAFKA_USERS of kafka-users.sh: "<username>=<variable> ..." -> username -> variable. */
const kafkaUsers = (value: string): Record<string, string> =>
  Object.fromEntries(
    value
      .trim()
      .split(/\s+/)
      .map((pair) => pair.split('=') as [string, string]),
  );

/** The one super user of kafka-server.properties (User:<name>): the admin principal. */
function superUser(): string {
  const users = (KAFKA_SERVER['super.users'] ?? '').split(';').map((u) => u.trim());
  if (users.length !== 1 || !users[0]?.startsWith('User:')) throw new Error(`super.users is not one user: ${KAFKA_SERVER['super.users']}`);
  return users[0].slice('User:'.length);
}

/** kafka.sasl.principals of the container configuration: program -> { username, password }. */
const principals = (): Record<string, { username: string; password: string }> => RAW_CONFIG['kafka']['sasl']['principals'];

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

  it("refers to the same variables as the local demo configuration, Kafka's TLS and SASL aside", () => {
    expect(REFERENCED.filter((v) => !isKafkaSecurity(v))).toEqual(referencedVariables(read('config/demo.yaml')).filter((v) => !isKafkaSecurity(v)));
    expect(REFERENCED.filter(isKafkaSecurity)).toEqual(['KAFKA_CA_FILE', ...PROGRAMS.map(kafkaPassword)].sort());
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
  const kafka = services['kafka'] as Doc;
  /** A service's mounts: container path -> host path or volume (the host path may hold ${VAR:-default}). */
  const mounts = (service: Doc): Record<string, string> =>
    Object.fromEntries(
      (service['volumes'] as string[]).map((volume) => {
        const match = /^(.+):(\/[^:]*)(?::(?:ro|rw))?$/.exec(volume);
        if (!match) throw new Error(`not host:container[:mode]: ${volume}`);
        return [match[2] as string, match[1] as string];
      }),
    );
  const credentials = (service: Doc): string[] =>
    Object.keys(service['environment'] as Doc)
      .filter(isCredential)
      .sort();

  it('runs Kafka, its one-shot setup (users, then ACLs) and each of the five services', () => {
    expect(Object.keys(services).sort()).toEqual(['kafka', 'kafka-users', 'kafka-setup', ...SERVICE_NAMES].sort());
  });

  it.each(SERVICE_NAMES)('gives %s the config file, the settings, only its own credentials, and a health check on its port', (name) => {
    const service = services[name] as Doc;
    expect(service['build']['args']['SERVICE']).toBe(name);
    expect(service['environment']['IDSYNC_CONFIG']).toBe('/etc/idsync/config.yaml');
    expect(service['volumes']).toContain('./k8s/idsync-config.yaml:/etc/idsync/config.yaml:ro');
    const variables = Object.keys(service['environment'] as Doc);
    expect(variables).toEqual(expect.arrayContaining(REFERENCED.filter((v) => !isCredential(v))));
    expect(credentials(service)).toEqual([...CREDENTIALS[name]].sort());
    expect(JSON.stringify(service['healthcheck']['test'])).toContain(`:${config.services[name].httpPort}/health`);
  });

  it.each(SERVICE_NAMES)('starts %s only once Kafka is up and its users and ACLs exist', (name) => {
    expect(services[name]?.['depends_on']).toEqual({
      kafka: { condition: 'service_healthy' },
      'kafka-setup': { condition: 'service_completed_successfully' },
    });
  });

  it.each(['kafka', 'kafka-users', 'kafka-setup', ...SERVICE_NAMES])('runs %s as uid 1000, read-only, without capabilities or privilege escalation', (name) => {
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
    expect(kafka['image']).toMatch(/^apache\/kafka:[\w.-]+@\$\{KAFKA_IMAGE_DIGEST:\?[^}]+\}$/);
    expect(services['kafka-users']?.['image']).toBe(kafka['image']);
    for (const name of [...SERVICE_NAMES, 'kafka-setup']) {
      expect(services[name]?.['image']).toBeUndefined();
      expect(services[name]?.['build']).toBeDefined();
    }
    for (const [name, service] of Object.entries(services)) if (service['image'] !== undefined && !name.startsWith('kafka')) expect(service['image']).toMatch(PINNED);
  });

  it('keeps Kafka data on the volume, not in the image default /tmp', () => {
    expect(KAFKA_SERVER['log.dirs']).toMatch(/^\/var\/lib\/kafka\/data\//);
    expect(kafka['volumes']).toContain('kafka-data:/var/lib/kafka/data');
  });

  it('runs Kafka with the same configuration as k8s/ (kafka-server.properties, kafka-start.sh), reachable only from the project', () => {
    expect(kafka['command']).toEqual(['bash', `${KAFKA_CONFIG_DIR}/start.sh`]);
    expect(mounts(kafka)).toMatchObject({ [`${KAFKA_CONFIG_DIR}/server.properties`]: './k8s/kafka-server.properties', [`${KAFKA_CONFIG_DIR}/start.sh`]: './k8s/kafka-start.sh' });
    expect(kafka['ports']).toBeUndefined();
    // The client listener is advertised under the name the services use.
    const client = listeners(KAFKA_SERVER['listeners'] as string)[KAFKA_SERVER['inter.broker.listener.name'] as string];
    expect(listeners(kafka['environment']['IDSYNC_KAFKA_ADVERTISED_LISTENERS'])).toEqual({ [KAFKA_SERVER['inter.broker.listener.name'] as string]: { host: 'kafka', port: client?.port } });
    expect(services['mapper']?.['environment']['KAFKA_BROKERS']).toBe(`kafka:${client?.port}`);
  });

  it('gives Kafka its key from a directory no other container mounts, and the CA the services trust', () => {
    const hostDir = (file: string | undefined): string | undefined => Object.entries(mounts(kafka)).find(([container]) => file?.startsWith(`${container}/`))?.[1];
    const defaultOf = (host: string | undefined): string | undefined => /^\$\{[A-Z_]+:-([^}]+)\}$/.exec(host ?? '')?.[1];
    const tlsDir = hostDir(KAFKA_SERVER['ssl.keystore.location']);
    const caDir = hostDir(KAFKA_SERVER['ssl.truststore.location']);
    expect(tlsDir).toMatch(/^\$\{IDSYNC_KAFKA_TLS_DIR:-[^}]+\}$/);
    expect(caDir).toMatch(/^\$\{IDSYNC_CA_DIR:-[^}]+\}$/);
    expect(`${defaultOf(tlsDir)}/`.startsWith(`${defaultOf(caDir)}/`)).toBe(false);
    const caFile = `/etc/idsync/certs/${KAFKA_SERVER['ssl.truststore.location']?.split('/').pop()}`;
    for (const name of [...SERVICE_NAMES, 'kafka-users', 'kafka-setup']) {
      const service = services[name] as Doc;
      expect(Object.values(mounts(service))).not.toContain(tlsDir);
      expect(mounts(service)['/etc/idsync/certs']).toBe(caDir);
      expect(service['environment']['KAFKA_CA_FILE']).toBe(caFile);
    }
  });

  it("checks Kafka's health logging in as the admin, with the client configuration kafka-start.sh writes", () => {
    const test = kafka['healthcheck']['test'] as string[];
    expect(test[0]).toBe('CMD-SHELL');
    const command = (test[1] as string).split(/\s+/);
    const argument = (flag: string): string | undefined => command[command.indexOf(flag) + 1];
    expect(command[0]).toBe('/opt/kafka/bin/kafka-broker-api-versions.sh');
    expect(argument('--bootstrap-server')).toBe(`localhost:${listeners(KAFKA_SERVER['listeners'] as string)[KAFKA_SERVER['inter.broker.listener.name'] as string]?.port}`);
    const dir = /^dir=(\S+)$/m.exec(KAFKA_START)?.[1];
    expect(argument('--command-config')).toBe(`${dir}/admin-client.properties`);
    expect(KAFKA_START).toContain('cat > "$dir/admin-client.properties"');
  });

  it("creates every program's Kafka user (kafka-users), then the ACLs with the CLI (kafka-setup), as the admin", () => {
    const users = services['kafka-users'] as Doc;
    const setup = services['kafka-setup'] as Doc;
    expect(users['depends_on']).toEqual({ kafka: { condition: 'service_healthy' } });
    expect(users['command']).toEqual(['bash', `${KAFKA_CONFIG_DIR}/users.sh`]);
    expect(mounts(users)[`${KAFKA_CONFIG_DIR}/users.sh`]).toBe('./k8s/kafka-users.sh');
    expect(kafkaUsers(users['environment']['IDSYNC_KAFKA_USERS'])).toEqual(Object.fromEntries(Object.entries(principals()).map(([program, p]) => [p.username, kafkaPassword(program)])));
    expect(credentials(users)).toEqual(['IDSYNC_KAFKA_ADMIN_PASSWORD', ...PROGRAMS.map(kafkaPassword)].sort());

    expect(setup['depends_on']).toEqual({ 'kafka-users': { condition: 'service_completed_successfully' } });
    expect(setup['command']).toEqual(['idsync', 'kafka-acls', '--apply']);
    expect(setup['build']).toEqual(services['mapper']?.['build']);
    expect(setup['volumes']).toContain('./k8s/idsync-config.yaml:/etc/idsync/config.yaml:ro');
    expect(setup['environment']['IDSYNC_CONFIG']).toBe('/etc/idsync/config.yaml');
    // The admin, and what the CLI needs to load the configuration (its own Kafka password, the operation key).
    expect(credentials(setup)).toEqual(['IDSYNC_KAFKA_ADMIN_PASSWORD', ...CREDENTIALS.cli.filter((v) => !v.endsWith('_BIND_PASSWORD'))].sort());
    for (const service of [users, setup]) expect(service['restart']).toBe('no');
    for (const service of [kafka, users, setup]) {
      expect(service['environment']['IDSYNC_KAFKA_ADMIN_USERNAME']).toBe(superUser());
      expect(service['environment']['IDSYNC_KAFKA_ADMIN_PASSWORD']).toMatch(/^\$\{IDSYNC_KAFKA_ADMIN_PASSWORD:\?[^}]+\}$/);
    }
  });
});

describe('k8s manifests', () => {
  const kustomization = parse(read('k8s/kustomization.yaml')) as Doc;
  const resources = (kustomization['resources'] as string[]).flatMap(k8sDocs);
  const examples = k8sDocs('secret.example.yaml');
  const [job] = k8sDocs('ops/resync-job.example.yaml') as [Doc];
  const [setupJob] = k8sDocs('ops/kafka-setup-job.yaml') as [Doc];
  const config = containerConfig();
  const settings = resources.find((d) => d['kind'] === 'ConfigMap' && d['metadata']['name'] === 'idsync-settings') as Doc;
  const ofKind = (kind: string): Doc[] => resources.filter((d) => d['kind'] === kind);
  const deployment = (name: string): Doc => ofKind('Deployment').find((d) => d['metadata']['name'] === `idsync-${name}`) as Doc;
  const workloads = [...ofKind('Deployment'), ...ofKind('StatefulSet')];
  const policies = ofKind('NetworkPolicy');
  const policy = (name: string): Doc => policies.find((p) => p['metadata']['name'] === name) as Doc;
  const kafkaService = ofKind('Service').find((s) => s['metadata']['name'] === 'idsync-kafka') as Doc;
  const kafkaPort = kafkaService['spec']['ports'][0]['port'] as number;
  const kafkaPod = ofKind('StatefulSet').find((s) => s['metadata']['name'] === 'idsync-kafka')?.['spec']['template']['spec'] as Doc;
  const kafkaContainer = kafkaPod['containers'][0] as Doc;
  const setupPod = setupJob['spec']['template']['spec'] as Doc;
  const containerNamed = (pod: Doc, name: string): Doc => [...(pod['initContainers'] ?? []), ...pod['containers']].find((c: Doc) => c['name'] === name) as Doc;
  const programSecrets = (): Doc[] => examples.filter((d) => d['kind'] === 'Secret' && PROGRAMS.some((p) => d['metadata']['name'] === `idsync-${p}`));
  /** A container's plain env values: name -> value. */
  const envValues = (c: Doc): Record<string, string> => Object.fromEntries((c['env'] as Doc[]).filter((e) => e['value'] !== undefined).map((e) => [e['name'], e['value']]));
  /** Where a pod mounts a volume into a container: mount path of the volume that `match` selects. */
  const mountOf = (pod: Doc, c: Doc, match: (volume: Doc) => boolean): Doc | undefined => {
    const volume = (pod['volumes'] as Doc[]).find(match);
    return (c['volumeMounts'] as Doc[]).find((m) => m['name'] === volume?.['name']);
  };

  /** The variables a pod's container gets from Secrets: name -> [secret, key]. */
  const secretVariables = (container: Doc): Record<string, [string, string]> =>
    Object.fromEntries(
      (container['env'] as Doc[]).filter((e) => e['valueFrom']?.['secretKeyRef']).map((e) => [e['name'], [e['valueFrom']['secretKeyRef']['name'], e['valueFrom']['secretKeyRef']['key']]]),
    );

  it('lists only files that exist and parse, and builds the config map from the container configuration', () => {
    expect(resources.length).toBeGreaterThan(5);
    expect(kustomization['resources']).toEqual(expect.arrayContaining(['network-policies.yaml', 'disruption-budgets.yaml']));
    expect(kustomization['configMapGenerator'][0]).toEqual({ name: 'idsync-config', files: ['config.yaml=idsync-config.yaml'] });
    expect(kustomization['configMapGenerator'][1]).toEqual({
      name: KAFKA_CONFIG_MAP,
      files: ['server.properties=kafka-server.properties', 'start.sh=kafka-start.sh', 'users.sh=kafka-users.sh'],
    });
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
    const secretKeys = programSecrets().flatMap((s) => Object.keys(s['stringData'] as Doc));
    expect(secretKeys.every(isCredential)).toBe(true);
    expect(Object.keys(settings['data']).some(isCredential)).toBe(false);
    expect([...Object.keys(settings['data']), ...secretKeys].sort()).toEqual(expect.arrayContaining(REFERENCED));
  });

  it('has one Secret per program with exactly the credentials it uses, and no shared one', () => {
    const secrets = examples.filter((d) => d['kind'] === 'Secret');
    // Kafka's own two (the admin's password, the broker's key) beside them: no program reads those.
    expect(secrets.map((s) => s['metadata']['name']).sort()).toEqual([...PROGRAMS.map((name) => `idsync-${name}`), KAFKA_ADMIN_SECRET, 'idsync-kafka-tls'].sort());
    for (const [name, keys] of Object.entries(CREDENTIALS)) {
      const secret = secrets.find((s) => s['metadata']['name'] === `idsync-${name}`) as Doc;
      expect(Object.keys(secret['stringData']).sort()).toEqual([...keys].sort());
    }
    expect(Object.keys(secrets.find((s) => s['metadata']['name'] === KAFKA_ADMIN_SECRET)?.['stringData'])).toEqual(['IDSYNC_KAFKA_ADMIN_PASSWORD']);
    expect(Object.keys(secrets.find((s) => s['metadata']['name'] === 'idsync-kafka-tls')?.['stringData'])).toEqual([KAFKA_SERVER['ssl.keystore.location']?.split('/').pop()]);
    // The CA certificates are public: a ConfigMap every service mounts (the configuration names the files).
    expect(examples.find((d) => d['kind'] === 'ConfigMap' && d['metadata']['name'] === 'idsync-ca')?.['data']).toEqual({
      'ad-ca.crt': expect.any(String),
      'ds-ca.crt': expect.any(String),
      'kafka-ca.crt': expect.any(String),
    });
  });

  it("gives each program's Secret its own Kafka password and no other program's", () => {
    for (const program of PROGRAMS) {
      const secret = programSecrets().find((s) => s['metadata']['name'] === `idsync-${program}`) as Doc;
      const kafkaKeys = Object.keys(secret['stringData'] as Doc).filter((key) => /^KAFKA_.*PASSWORD$/.test(key));
      expect(kafkaKeys).toEqual([kafkaPassword(program)]);
      // ... the variable its principal's password is read from in the configuration.
      expect(principals()[program]?.password).toBe(`\${${kafkaPassword(program)}}`);
    }
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
    // The mapper binds to no directory and opens no password: its only password is its Kafka principal's.
    if (name === 'mapper') expect(Object.keys(variables).filter((v) => v.endsWith('PASSWORD') || v.startsWith('IDSYNC_PASSWORD_KEY_'))).toEqual([kafkaPassword('mapper')]);
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

  describe('every pod (services, Kafka, the ops Jobs)', () => {
    const pods: [string, Doc][] = [...workloads, job, setupJob].map((w) => [`${w['kind']} ${w['metadata']['name']}`, w['spec']['template']['spec']]);

    it('covers every workload', () => {
      expect(pods.map(([what]) => what).sort()).toEqual([
        'Deployment idsync-ad-detector',
        'Deployment idsync-ad-writer',
        'Deployment idsync-ds-detector',
        'Deployment idsync-ds-writer',
        'Deployment idsync-mapper',
        'Job idsync-kafka-setup',
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
      for (const container of containers) {
        const tmp = (container['volumeMounts'] as Doc[]).find((mount) => mount['mountPath'] === '/tmp');
        expect(emptyDirs).toContain(tmp?.['name']);
      }
    });
  });

  it('pins every image by digest, init containers included', () => {
    const images = [...workloads, job, setupJob].flatMap((w) =>
      [...(w['spec']['template']['spec']['initContainers'] ?? []), ...w['spec']['template']['spec']['containers']].map((c: Doc) => c['image'] as string),
    );
    expect(images.length).toBe(9);
    for (const image of images) expect(image).toMatch(PINNED);
    // Every image reference anywhere under k8s/ (comments aside) is one of these.
    const all = ['kafka.yaml', 'services.yaml', 'ops/resync-job.example.yaml', 'ops/kafka-setup-job.yaml'].flatMap((file) =>
      [...read(`k8s/${file}`).matchAll(/^\s*image:\s*(\S+)/gm)].map((m) => m[1]),
    );
    expect(all.sort()).toEqual([...images].sort());
  });

  it('keeps Kafka data on its volume, not in the image default /tmp, and the writable paths on emptyDirs', () => {
    const mounts = Object.fromEntries((kafkaContainer['volumeMounts'] as Doc[]).map((m) => [m['mountPath'], m]));
    expect(KAFKA_SERVER['log.dirs']).toMatch(/^\/var\/lib\/kafka\/data\//);
    expect(mounts['/var/lib/kafka/data']?.['name']).toBe(ofKind('StatefulSet')[0]?.['spec']['volumeClaimTemplates'][0]['metadata']['name']);
    for (const path of ['/opt/kafka/logs', '/tmp']) expect((kafkaPod['volumes'] as Doc[]).find((v) => v['name'] === mounts[path]?.['name'])?.['emptyDir']).toEqual({});
    // Everything else it reads is mounted read-only: its configuration and scripts, its key, the CA.
    const writable = Object.values<Doc>(mounts)
      .filter((m) => m['readOnly'] !== true)
      .map((m) => m['mountPath']);
    expect(writable.sort()).toEqual(['/opt/kafka/logs', '/tmp', '/var/lib/kafka/data']);
  });

  it('starts Kafka with kafka-server.properties and kafka-start.sh from the generated ConfigMap', () => {
    expect(kafkaContainer['command']).toEqual(['bash', `${KAFKA_CONFIG_DIR}/start.sh`]);
    expect(mountOf(kafkaPod, kafkaContainer, (v) => v['configMap']?.['name'] === KAFKA_CONFIG_MAP)).toMatchObject({ mountPath: KAFKA_CONFIG_DIR, readOnly: true });
    expect(KAFKA_START).toContain(`cat ${KAFKA_CONFIG_DIR}/server.properties`);
    expect(kafkaPod['initContainers']).toBeUndefined();
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
      expect(p['ingress']).toEqual([
        { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ protocol: 'TCP', port: config.services[name].httpPort }] },
      ]);
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

    it('let only the idsync services, the CLI Jobs, the setup Job and Kafka itself reach Kafka, on its broker port', () => {
      const p = policy('idsync-kafka')['spec'];
      const self = { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'idsync-kafka' } } };
      expect(p['podSelector']).toEqual(self.podSelector);
      expect(p['policyTypes']).toEqual(['Ingress', 'Egress']);
      // Its only egress (DNS aside): itself, its inter-broker client reaching its advertised address.
      expect(p['egress']).toEqual([{ to: [self], ports: [{ protocol: 'TCP', port: kafkaPort }] }]);
      expect(p['ingress']).toHaveLength(1);
      expect(p['ingress'][0]['ports']).toEqual([{ protocol: 'TCP', port: kafkaPort }]);
      const [services, cli, setup, itself, ...others] = p['ingress'][0]['from'] as Doc[];
      expect(services?.['podSelector']['matchExpressions']).toEqual([{ key: 'app.kubernetes.io/name', operator: 'In', values: SERVICE_NAMES.map((n) => `idsync-${n}`) }]);
      expect(cli).toEqual({ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'cli' } } });
      expect(setup).toEqual({ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'kafka-setup' } } });
      expect(itself).toEqual(self);
      expect(others).toEqual([]);
      expect(job['spec']['template']['metadata']['labels']['app.kubernetes.io/component']).toBe('cli');
      expect(settings['data']['KAFKA_BROKERS']).toBe(`idsync-kafka:${kafkaPort}`);
    });

    it('let the setup Job reach Kafka and nothing else, and nothing reach it', () => {
      const p = policy('idsync-kafka-setup')['spec'];
      const labels = setupJob['spec']['template']['metadata']['labels'] as Record<string, string>;
      expect(p['podSelector']).toEqual({ matchLabels: { 'app.kubernetes.io/component': 'kafka-setup' } });
      expect(labels['app.kubernetes.io/component']).toBe('kafka-setup');
      expect(p['policyTypes']).toEqual(['Ingress', 'Egress']);
      expect(p['ingress']).toEqual([]);
      expect(p['egress']).toHaveLength(1);
      expect((p['egress'] as Doc[]).filter(kafkaRule)).toHaveLength(1);
      // No other policy selects its pods (policies add up: the CLI's would let it reach the directories).
      const selecting = policies.filter((q) => Object.entries((q['spec']['podSelector']['matchLabels'] ?? {}) as Record<string, string>).every(([k, v]) => labels[k] === v));
      expect(selecting.map((q) => q['metadata']['name']).sort()).toEqual(['allow-dns', 'default-deny', 'idsync-kafka-setup']);
    });

    it('open the port the Kafka Service sends to: the broker container port, its client listener', () => {
      expect(kafkaService['spec']['ports']).toEqual([{ name: 'broker', port: kafkaPort, targetPort: 'broker' }]);
      expect(kafkaContainer['ports']).toEqual([{ containerPort: kafkaPort, name: 'broker' }]);
      expect(listeners(KAFKA_SERVER['listeners'] as string)[KAFKA_SERVER['inter.broker.listener.name'] as string]?.port).toBe(kafkaPort);
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

  describe('Kafka security', () => {
    const listenersOf = listeners(KAFKA_SERVER['listeners'] as string);
    const protocols = csvMap(KAFKA_SERVER['listener.security.protocol.map'] as string);
    const client = KAFKA_SERVER['inter.broker.listener.name'] as string;
    const controllers = (KAFKA_SERVER['controller.listener.names'] as string).split(',');
    const mechanisms = (listener: string): string[] => (KAFKA_SERVER[`listener.name.${listener.toLowerCase()}.sasl.enabled.mechanisms`] ?? '').split(',').filter(Boolean);
    const adminUsernames = (): string[] => [
      envValues(kafkaContainer)['IDSYNC_KAFKA_ADMIN_USERNAME'] as string,
      ...['users', 'acls'].map((name) => envValues(containerNamed(setupPod, name))['IDSYNC_KAFKA_ADMIN_USERNAME'] as string),
    ];

    it('listens for clients on SASL_SSL with SCRAM-SHA-512 only; no listener is PLAINTEXT, and the other is on loopback', () => {
      expect(Object.keys(listenersOf).sort()).toEqual(Object.keys(protocols).sort());
      // Every listener authenticates and encrypts: no PLAINTEXT, SASL_PLAINTEXT or certificate-less SSL anywhere.
      for (const [listener, protocol] of Object.entries(protocols)) expect([listener, protocol]).toEqual([listener, 'SASL_SSL']);
      expect(listenersOf[client]).toEqual({ host: '', port: kafkaPort });
      expect(mechanisms(client)).toEqual(['SCRAM-SHA-512']);
      expect(KAFKA_SERVER['sasl.mechanism.inter.broker.protocol']).toBe('SCRAM-SHA-512');
      // The top-level list would apply to a listener without its own: every listener has its own.
      for (const listener of Object.keys(listenersOf)) expect(mechanisms(listener).length).toBeGreaterThan(0);
      // Everything but the client listener is bound to loopback, out of the services' reach.
      for (const [listener, { host }] of Object.entries(listenersOf)) if (listener !== client) expect([listener, host]).toEqual([listener, 'localhost']);
      // Only the client listener is advertised, under the name the services use.
      expect(listeners(envValues(kafkaContainer)['IDSYNC_KAFKA_ADVERTISED_LISTENERS'] as string)).toEqual({ [client]: { host: 'idsync-kafka', port: kafkaPort } });
      expect(settings['data']['KAFKA_BROKERS']).toBe(`idsync-kafka:${kafkaPort}`);
    });

    it('authenticates the controller listener with PLAIN over TLS (SCRAM credentials live in the metadata it serves)', () => {
      expect(controllers).toHaveLength(1);
      const [controller] = controllers as [string];
      expect(controller).not.toBe(client);
      expect(protocols[controller]).toBe('SASL_SSL');
      expect(mechanisms(controller)).toEqual(['PLAIN']);
      expect(KAFKA_SERVER['sasl.mechanism.controller.protocol']).toBe('PLAIN');
      expect(KAFKA_SERVER['controller.quorum.voters']).toBe(`${KAFKA_SERVER['node.id']}@localhost:${listenersOf[controller]?.port}`);
    });

    it("gives each SASL listener the admin's login for its mechanism (kafka-start.sh), and formats the storage with its SCRAM credential", () => {
      for (const listener of Object.keys(listenersOf)) {
        for (const mechanism of mechanisms(listener)) expect(KAFKA_START).toContain(`listener.name.${listener.toLowerCase()}.${mechanism.toLowerCase()}.sasl.jaas.config=`);
      }
      expect(KAFKA_START).toMatch(/--add-scram "SCRAM-SHA-512=\[name=\$user,password=\$password\]"/);
      expect(KAFKA_START).toMatch(/^user=\$IDSYNC_KAFKA_ADMIN_USERNAME$/m);
      expect(KAFKA_START).toMatch(/^exec \/opt\/kafka\/bin\/kafka-server-start\.sh "\$config"$/m);
    });

    it('denies what no ACL allows (StandardAuthorizer), with the admin as the only super user and no program one', () => {
      expect(KAFKA_SERVER['authorizer.class.name']).toBe('org.apache.kafka.metadata.authorizer.StandardAuthorizer');
      expect(KAFKA_SERVER['allow.everyone.if.no.acl.found']).toBe('false');
      const admin = superUser();
      expect(adminUsernames()).toEqual([admin, admin, admin]);
      expect(Object.values(principals()).map((p) => p.username)).not.toContain(admin);
      // The admin's password is Kafka's and the setup Job's: no service is given it.
      const holders = [...workloads, job, setupJob].filter((w) =>
        [...(w['spec']['template']['spec']['initContainers'] ?? []), ...w['spec']['template']['spec']['containers']].some((c: Doc) =>
          Object.values(secretVariables(c)).some(([secret]) => secret === KAFKA_ADMIN_SECRET),
        ),
      );
      expect(holders.map((w) => w['metadata']['name']).sort()).toEqual(['idsync-kafka', 'idsync-kafka-setup']);
    });

    it('serves TLS with the key of its Secret (PEM) and trusts the CA the services are given', () => {
      expect(KAFKA_SERVER['ssl.keystore.type']).toBe('PEM');
      expect(KAFKA_SERVER['ssl.keystore.password']).toBeUndefined();
      expect(KAFKA_SERVER['ssl.truststore.type']).toBe('PEM');
      expect(KAFKA_SERVER['ssl.client.auth']).toBe('none');
      expect(KAFKA_SERVER['ssl.endpoint.identification.algorithm']).toBe('https');
      const tls = mountOf(kafkaPod, kafkaContainer, (v) => v['secret']?.['secretName'] === 'idsync-kafka-tls');
      expect(tls?.['readOnly']).toBe(true);
      expect(KAFKA_SERVER['ssl.keystore.location']).toBe(`${tls?.['mountPath']}/kafka.pem`);
      const ca = mountOf(kafkaPod, kafkaContainer, (v) => v['configMap']?.['name'] === 'idsync-ca');
      const caVolume = (kafkaPod['volumes'] as Doc[]).find((v) => v['name'] === ca?.['name']);
      expect(caVolume?.['configMap']['items']).toEqual([{ key: 'kafka-ca.crt', path: 'kafka-ca.crt' }]);
      expect(KAFKA_SERVER['ssl.truststore.location']).toBe(`${ca?.['mountPath']}/kafka-ca.crt`);
      // The services: the configuration's CA file is kafka-ca.crt of the idsync-ca map they mount.
      expect(RAW_CONFIG['kafka']['ssl']).toEqual({ caFile: '${KAFKA_CA_FILE}' });
      for (const name of SERVICE_NAMES) {
        const pod = deployment(name)['spec']['template']['spec'];
        const mount = mountOf(pod, pod['containers'][0], (v) => v['configMap']?.['name'] === 'idsync-ca');
        expect(settings['data']['KAFKA_CA_FILE']).toBe(`${mount?.['mountPath']}/kafka-ca.crt`);
      }
    });

    it('names one principal per program in the configuration, each with its own username and password variable', () => {
      expect(RAW_CONFIG['kafka']['sasl']['mechanism']).toBe('scram-sha-512');
      // k8s has no password agent: a principal for it only with its service block.
      const programs = [...PROGRAMS, ...(RAW_CONFIG['services']['password-agent'] ? ['password-agent'] : [])];
      expect(Object.keys(principals()).sort()).toEqual([...programs].sort());
      const usernames = Object.values(principals()).map((p) => p.username);
      expect(new Set(usernames).size).toBe(usernames.length);
      for (const [program, { username, password }] of Object.entries(principals())) {
        expect(username).toBe(`idsync-${program}`);
        expect(password).toBe(`\${${kafkaPassword(program)}}`);
      }
    });

    it("has the setup Job create each principal's SCRAM user with its program's password, then apply the ACLs with the CLI", () => {
      expect(setupJob['kind']).toBe('Job');
      const users = containerNamed(setupPod, 'users');
      const acls = containerNamed(setupPod, 'acls');
      expect((setupPod['initContainers'] as Doc[]).map((c) => c['name'])).toEqual(['users']);
      expect((setupPod['containers'] as Doc[]).map((c) => c['name'])).toEqual(['acls']);

      // users: kafka-users.sh (users.sh of the generated map) in the Kafka image, every principal of the configuration.
      expect(users['image']).toBe(kafkaContainer['image']);
      expect(users['command']).toEqual(['bash', `${KAFKA_CONFIG_DIR}/users.sh`]);
      expect(mountOf(setupPod, users, (v) => v['configMap']?.['name'] === KAFKA_CONFIG_MAP)).toMatchObject({ mountPath: KAFKA_CONFIG_DIR, readOnly: true });
      const pairs = kafkaUsers(envValues(users)['IDSYNC_KAFKA_USERS'] as string);
      expect(pairs).toEqual(Object.fromEntries(Object.entries(principals()).map(([program, p]) => [p.username, kafkaPassword(program)])));
      const userSecrets = secretVariables(users);
      for (const [program, { username }] of Object.entries(principals())) expect([username, userSecrets[pairs[username] as string]]).toEqual([username, [`idsync-${program}`, kafkaPassword(program)]]);
      expect(Object.keys(userSecrets).sort()).toEqual(['IDSYNC_KAFKA_ADMIN_PASSWORD', ...PROGRAMS.map(kafkaPassword)].sort());
      const fromSettings = (users['env'] as Doc[]).filter((e) => e['valueFrom']?.['configMapKeyRef']?.['name'] === 'idsync-settings').map((e) => e['name']);
      expect(fromSettings.sort()).toEqual(['KAFKA_BROKERS', 'KAFKA_CA_FILE']);
      expect(mountOf(setupPod, users, (v) => v['configMap']?.['name'] === 'idsync-ca')?.['mountPath']).toBe(settings['data']['KAFKA_CA_FILE'].replace(/\/[^/]+$/, ''));

      // acls: the idsync command of the services' image, with the configuration; as the admin.
      expect(acls['command']).toEqual(['idsync', 'kafka-acls', '--apply']);
      expect(acls['image']).toBe(deployment('mapper')['spec']['template']['spec']['containers'][0]['image']);
      expect(acls['env']).toContainEqual({ name: 'IDSYNC_CONFIG', value: '/etc/idsync/config.yaml' });
      expect(acls['envFrom']).toEqual([{ configMapRef: { name: 'idsync-settings' } }]);
      expect(setupPod['volumes']).toContainEqual({ name: 'config', configMap: { name: 'idsync-config' } });
      expect(secretVariables(acls)).toEqual({
        IDSYNC_KAFKA_ADMIN_PASSWORD: [KAFKA_ADMIN_SECRET, 'IDSYNC_KAFKA_ADMIN_PASSWORD'],
        // What the CLI needs to load the configuration: its own Kafka password and operation key (no directory's).
        ...Object.fromEntries(CREDENTIALS.cli.filter((v) => !v.endsWith('_BIND_PASSWORD')).map((v) => [v, ['idsync-cli', v]])),
      });
      const given = Object.keys(secretVariables(acls));
      const env = { ...(settings['data'] as Record<string, string>), ...Object.fromEntries(given.map((v) => [v, placeholder(v)])) };
      expect(parseConfigFor(CONTAINER_CONFIG, 'k8s/idsync-config.yaml', env, { reader: 'cli' }).withheld).toEqual(ALL_CREDENTIALS.filter((v) => !given.includes(v)));
    });

    it('creates the same users in compose (kafka-users) as in the setup Job', () => {
      const compose = parse(read('docker-compose.yml'), { merge: true }) as Doc;
      const users = containerNamed(setupPod, 'users');
      expect(kafkaUsers(compose['services']['kafka-users']['environment']['IDSYNC_KAFKA_USERS'])).toEqual(kafkaUsers(envValues(users)['IDSYNC_KAFKA_USERS'] as string));
    });
  });
});
