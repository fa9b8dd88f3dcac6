/**
 * Steps of a scenario test: `it`s that run in file order and remember whether one failed, so `afterAll` can print
 * the services' logs when, and only when, something went wrong.
 */
export class Scenario {
  failed = false;

  constructor(private readonly defaultTimeoutMs = 120_000) {}

  readonly step = (name: string, body: () => Promise<void>, timeoutMs = this.defaultTimeoutMs): void => {
    it(
      name,
      async () => {
        try {
          await body();
        } catch (error) {
          this.failed = true;
          throw error;
        }
      },
      timeoutMs,
    );
  };
}
