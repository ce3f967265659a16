/**
 * `npm test`: provisions what the suites need (a throwaway PostgreSQL cluster unless CENECA_PG_URL is set), runs
 * mocha over test/unit, test/integration, test/browser (the webview in Chromium) and test/host (the packaged
 * extension in a real VS Code; these provision Chromium and code-server themselves), stops everything it started,
 * and ends with a plain "N passed, N failed" line.
 * Arguments select files by substring (`node --import tsx test/run.ts test/host`); the PostgreSQL cluster starts
 * only when a selected file is outside test/host.
 */
import Mocha from 'mocha';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startPgCluster, type PgCluster } from './support/pg-cluster';

const suites = ['test/unit', 'test/integration', 'test/browser', 'test/host'];

async function main(): Promise<number> {
  const filter = process.argv.slice(2);
  const files = testFiles(suites).filter((file) => filter.length === 0 || filter.some((f) => file.includes(f)));
  let cluster: PgCluster | undefined;
  if (process.env.CENECA_PG_URL) {
    process.env.CENECA_TEST_PG_URL = process.env.CENECA_PG_URL;
  } else if (files.some((file) => !file.startsWith(join('test', 'host')))) {
    cluster = await startPgCluster((line) => console.log(`[test] ${line}`));
    process.env.CENECA_TEST_PG_URL = cluster.url;
  }
  const stop = (): void => void (cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const options = JSON.parse(readFileSync('.mocharc.json', 'utf8')) as { timeout: number };
    const mocha = new Mocha({ timeout: options.timeout, reporter: 'spec', grep: process.env.TEST_GREP });
    for (const file of files) mocha.addFile(file);
    await mocha.loadFilesAsync();
    const stats = await new Promise<Mocha.Stats>((resolve) => {
      const runner = mocha.run(() => resolve(runner.stats!));
    });
    console.log(`\n${stats.passes} passed, ${stats.failures} failed, ${stats.pending} skipped`);
    return stats.failures > 0 || stats.tests === 0 ? 1 : 0;
  } finally {
    await cluster?.stop();
  }
}

function testFiles(dirs: string[]): string[] {
  return dirs.flatMap((dir) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.test.ts')).map((f) => join(dir, f))).sort();
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exit(1);
  },
);
