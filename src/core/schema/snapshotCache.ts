/**
 * One schema snapshot per source, loaded on first use and kept: `refresh` reloads, a failed load is not cached,
 * and concurrent callers share the load in flight. Every source introspects through one of these.
 */
import type { IntrospectOptions } from '../sources/source';
import type { SchemaSnapshot } from './types';

export type SnapshotLoader = (onProgress: (fraction: number) => void, signal?: AbortSignal) => Promise<SchemaSnapshot>;

export class SnapshotCache {
  private pending?: Promise<SchemaSnapshot>;

  constructor(private readonly load: SnapshotLoader) {}

  async get(options: IntrospectOptions = {}): Promise<SchemaSnapshot> {
    if (options.refresh || !this.pending) {
      const loading = this.load(options.onProgress ?? (() => undefined), options.signal);
      this.pending = loading;
      loading.catch(() => {
        if (this.pending === loading) this.pending = undefined;
      });
      return loading;
    }
    const cached = await this.pending;
    options.onProgress?.(1);
    return cached;
  }

  clear(): void {
    this.pending = undefined;
  }
}
