import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { parseConfig, referencedVariables, SERVICE_NAMES, type SyncConfig } from '@idsync/config';

/** Offline checks of docker-compose.yml and k8s/: they can't run here (no container engine), so they are read. */
const ROOT = join(__dirname, '..', '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

type Doc = Record<string, any>;
const k8sDocs = (file: string): Doc[] => parseAllDocuments(read(`k8s/${file}`)).map((d) => d.toJS() as Doc).filter(Boolean);

const CONTAINER_CONFIG = read('k8s/idsync-config.yaml');
const REFERENCED = referencedVariables(CONTAINER_CONFIG);

/** The container configuration, resolved with placeholder values for every variable it refers to. */
function containerConfig(): SyncConfig {
  const env = Object.fromEntries(
    REFERENCED.map((name) => [
      name,
      name.endsWith('_URL') ? 'ldaps://directory.example:636' : name.endsWith('_DN') ? 'dc=example,dc=org' : /^IDSYNC_(PASSWORD|OPERATION)_KEY_/.test(name) ? Buffer.alloc(32, 7).toString('base64') : 'x',
    ]),
  );
  env['KAFKA_BROKERS'] = 'kafka:9092';
  return parseConfig(CONTAINER_CONFIG, 'k8s/idsync-config.yaml', env);
}

describe('container configuration', () => {
  it('is a valid configuration that listens on all interfaces', () => {
    expect(containerConfig().http.host).toBe('0.0.0.0');
  });

  it('refers to the same variables as the local demo configuration', () => {
    expect(REFERENCED).toEqual(referencedVariables(read('config/demo.yaml')));
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as Doc;
  const config = containerConfig();

  it('runs Kafka and each of the five services', () => {
    expect(Object.keys(compose['services']).sort()).toEqual(['kafka', ...SERVICE_NAMES].sort());
  });

  it.each(SERVICE_NAMES)('gives %s the config file, every variable it refers to, and a health check on its port', (name) => {
    const service = compose['services'][name] as Doc;
    expect(service['build']['args']['SERVICE']).toBe(name);
    expect(service['environment']['IDSYNC_CONFIG']).toBe('/etc/idsync/config.yaml');
    expect(service['volumes']).toContain('./k8s/idsync-config.yaml:/etc/idsync/config.yaml:ro');
    expect(Object.keys(service['environment'])).toEqual(expect.arrayContaining(REFERENCED));
    expect(JSON.stringify(service['healthcheck']['test'])).toContain(`:${config.services[name].httpPort}/health`);
  });
});

describe('k8s manifests', () => {
  const kustomization = parse(read('k8s/kustomization.yaml')) as Doc;
  const resources = (kustomization['resources'] as string[]).flatMap(k8sDocs);
  const config = containerConfig();
  const settings = resources.find((d) => d['kind'] === 'ConfigMap' && d['metadata']['name'] === 'idsync-settings') as Doc;
  const credentials = k8sDocs('secret.example.yaml').find((d) => d['metadata']['name'] === 'idsync-credentials') as Doc;

  it('lists only files that exist and parse, and builds the config map from the container configuration', () => {
    expect(resources.length).toBeGreaterThan(5);
    expect(kustomization['configMapGenerator'][0]).toEqual({ name: 'idsync-config', files: ['config.yaml=idsync-config.yaml'] });
  });

  it('keeps passwords in the Secret and everything else in the settings map', () => {
    const secretKeys = Object.keys(credentials['stringData']);
    expect(secretKeys.every((key) => key.endsWith('PASSWORD') || /^IDSYNC_(PASSWORD|OPERATION)_KEY_/.test(key))).toBe(true);
    expect(Object.keys(settings['data']).some((key) => key.includes('PASSWORD'))).toBe(false);
    expect([...Object.keys(settings['data']), ...secretKeys].sort()).toEqual(expect.arrayContaining(REFERENCED));
  });

  it.each(SERVICE_NAMES)('deploys %s with its port, probes, config mount and environment', (name) => {
    const deployment = resources.find((d) => d['kind'] === 'Deployment' && d['metadata']['name'] === `idsync-${name}`) as Doc;
    expect(deployment).toBeDefined();
    const pod = deployment['spec']['template']['spec'];
    const container = pod['containers'][0];
    expect(container['ports'][0]['containerPort']).toBe(config.services[name].httpPort);
    expect(container['readinessProbe']['httpGet']['path']).toBe('/health');
    expect(container['livenessProbe']['httpGet']['path']).toBe('/health/live');
    expect(container['env']).toContainEqual({ name: 'IDSYNC_CONFIG', value: '/etc/idsync/config.yaml' });
    expect(container['envFrom']).toEqual([{ configMapRef: { name: 'idsync-settings' } }, { secretRef: { name: 'idsync-credentials' } }]);
    expect(pod['volumes']).toContainEqual({ name: 'config', configMap: { name: 'idsync-config' } });
    if (name.endsWith('detector')) expect(deployment['spec']).toMatchObject({ replicas: 1, strategy: { type: 'Recreate' } });
  });

  it('runs a resync as a Job from the same image, configuration and credentials as the services', () => {
    const [job] = k8sDocs('ops/resync-job.example.yaml');
    const pod = job?.['spec']['template']['spec'];
    const container = pod['containers'][0];
    expect(job?.['kind']).toBe('Job');
    expect(container['command'].slice(0, 4)).toEqual(['idsync', 'resync', '--pipe', config.pipes[0]?.name]);
    expect(container['env']).toContainEqual({ name: 'IDSYNC_CONFIG', value: '/etc/idsync/config.yaml' });
    expect(container['envFrom']).toEqual([{ configMapRef: { name: 'idsync-settings' } }, { secretRef: { name: 'idsync-credentials' } }]);
    expect(pod['volumes']).toContainEqual({ name: 'config', configMap: { name: 'idsync-config' } });
    // The image that runs the services has the command (Dockerfile).
    expect(read('Dockerfile')).toMatch(/ln -s \/app\/services\/cli\/bin\/idsync \/usr\/local\/bin\/idsync/);
  });
});
