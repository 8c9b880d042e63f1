/**
 * Runs the compile-only checks of the public types (`public-api.types.ts`) under `npm test`:
 * every typed event, option and error the file uses must compile, and every mistake it marks
 * with `@ts-expect-error` must be refused.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

describe('public types', () => {
  it('accept what hosts write and refuse the marked mistakes', async () => {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [tsc, '-p', join(here, 'tsconfig.json'), '--noEmit', '--pretty', 'false'],
      { timeout: 120_000 }
    ).catch((error: { stdout?: string; stderr?: string }) => ({
      stdout: error.stdout ?? String(error),
      stderr: error.stderr ?? ''
    }));
    assert.equal(`${stdout}${stderr}`.trim(), '', 'tsc reported errors');
  });
});
