/**
 * Where the examples replicate: the URIs in MONGO_REPLICATE_SOURCE_URI and
 * MONGO_REPLICATE_TARGET_URI when both are set (real MongoDB replica sets), else two of the
 * project's test servers started here, so every example runs with nothing installed.
 */
import { startTestServer, type TestServer } from '../../test/server/server.js';

export interface ExampleDeployments {
  readonly sourceUri: string;
  readonly targetUri: string;
  /** True when the examples run against their own test servers. */
  readonly local: boolean;
  close(): Promise<void>;
}

export async function openDeployments(): Promise<ExampleDeployments> {
  const source = process.env.MONGO_REPLICATE_SOURCE_URI;
  const target = process.env.MONGO_REPLICATE_TARGET_URI;
  if (source && target) {
    return { sourceUri: source, targetUri: target, local: false, close: () => Promise.resolve() };
  }
  const servers: TestServer[] = await Promise.all([
    startTestServer({ replSetName: 'source' }),
    startTestServer({ replSetName: 'target' })
  ]);
  return {
    sourceUri: servers[0]!.uri,
    targetUri: servers[1]!.uri,
    local: true,
    async close() {
      await Promise.all(servers.map(server => server.stop()));
    }
  };
}
