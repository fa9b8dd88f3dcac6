// The parts of a configuration document (config/demo.yaml, parsed YAML) that the benchmarks rewrite before a run; the
// rest passes through as it is, and the configuration's own parser checks the result.

interface TopicBlock {
  name: string;
  [key: string]: unknown;
}

interface ServiceBlock {
  httpPort?: number;
  source?: string;
  destination?: string;
  [key: string]: unknown;
}

export interface ConfigDocument {
  logLevel?: string;
  kafka: {
    clientId?: string;
    brokers?: string[];
    ssl?: unknown;
    sasl: { principals: Record<string, { username: string; password: string }>; [key: string]: unknown };
    topics: { adChanges: TopicBlock; links: TopicBlock; [key: string]: TopicBlock };
    [key: string]: unknown;
  };
  directories: Record<string, unknown>;
  services: {
    'ad-writer': ServiceBlock & { writeReceipts?: boolean };
    'ad-detector': ServiceBlock & { ownWrites?: { enabled: boolean } };
    [name: string]: ServiceBlock;
  };
  pipes?: { source: string; destination: string; [key: string]: unknown }[];
  [key: string]: unknown;
}
