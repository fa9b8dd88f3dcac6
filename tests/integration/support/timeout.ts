// Real servers answer in seconds, not milliseconds: a test without its own timeout gets two minutes. (A project's
// `testTimeout` in jest.config.js is not applied by Jest; this file is the integration project's setup instead.)
jest.setTimeout(120_000);
